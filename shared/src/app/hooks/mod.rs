//! The hooks we register at GitLab: registering them and rotating their secrets (admin), group
//! hooks (groups), reading back how GitLab says they fare (health, group_health), and noting
//! when deliveries arrive (delivery_note).

pub mod admin;
pub mod delivery_note;
pub mod group_health;
pub mod groups;
pub mod health;
