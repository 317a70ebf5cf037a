//! CMI end to end: paygate against the CMI emulator, plus the operator tools as a black box.

mod tools;
