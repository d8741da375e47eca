//! Transfer applications: the case view and the workflow steps (filing, the queue and the sweep
//! move here next).

pub mod attachments;
pub mod case;
pub mod events;
pub mod filing;
pub mod queue;
pub mod workflow;
