//! The hooks we register at GitLab: registering them and rotating their secrets (admin),
//! reading back how GitLab says they fare (health), and noting when deliveries arrive
//! (delivery_note).

pub mod admin;
pub mod delivery_note;
pub mod health;
