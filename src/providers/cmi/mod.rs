//! CMI (Morocco's interbank processor, NestPay platform) in its 3D Pay Hosting model:
//! a signed form the customer's browser posts to CMI, a signed server-to-server callback, and
//! an XML API for capture, void, refund and status (specs/cmi.md).
pub mod form;
pub mod hash;
