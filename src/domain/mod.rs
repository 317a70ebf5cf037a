//! Pure types and rules: money, ids, payments and their state machine. No I/O, no transport
//! or database types; `providers/`, `store/` and `service/` all speak these.
pub mod card_data;
pub mod commands;
pub mod currency;
pub mod external;
pub mod ids;
pub mod money;
pub mod operation;
pub mod payment;
pub mod provider;
pub mod refund_parts;
pub mod refusal;
pub mod timestamp;

pub use card_data::{CardDataFound, CardDataScan};
pub use commands::{
    Address, AuthorizeCommand, CaptureCommand, Customer, ListQuery, RefundCommand, VoidCommand,
};
pub use currency::{Currency, CurrencyError};
pub use external::{ExternalOperation, ExternalSource, Fit, ParkReason};
pub use ids::{IdError, IdempotencyKey, MerchantId, OperationId, PaymentId};
pub use money::{Money, MoneyError};
pub use operation::{Failure, Operation, OperationKind, OperationStatus};
pub use payment::{
    Abandoned, CaptureMode, KEPT_FAILED_ATTEMPTS, NextAction, Outcome, Payment, PaymentStatus,
    Refusal,
};
pub use provider::{Capabilities, ProviderKind, UnknownProvider};
pub use refund_parts::RefundPart;
pub use timestamp::Timestamp;
