//! The hooks we register at GitLab: registering them and rotating their secrets (admin), and
//! reading back how GitLab says they fare (health).

pub mod admin;
pub mod health;
