//! Shipment manifests (电子转移联单): the commands a producer sends to create them (`create.rs`:
//! one or a batch, with their checks), who sees a manifest and the manifest as clients read it
//! (`view.rs`), the acts on it — dispatch, cancel, arrival, receipt, rejection (`act.rs`) — and
//! the manifest list (`list.rs`).

mod act;
mod create;
pub mod list;
mod view;

pub use act::*;
pub use create::*;
pub use view::*;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::auth::principal::Principal;
use crate::auth::principal::{Binding, Role};
use crate::auth::{Decision, Guarded, authorize};
/// What a manifest's party does to it (dispatch, cancel, arrival, receipt, rejection).
pub use crate::db::manifests::ManifestAct;
use crate::db::{
    self, from_db_time,
    manifests::{
        ArrivalReporter, Clock, CreateOutcome, DiscrepancyRow, ManifestContext, ManifestItemRow, ManifestRefusal,
        ManifestRow, NewManifest, PaperTrip, Transport,
    },
};
use crate::domain::Invalid;
use crate::domain::calendar::parse_instant;
use crate::domain::manifest::{Discrepancy, DiscrepancyDecision, DiscrepancyKind};
use crate::domain::quantity::Quantity;
use crate::domain::quantity::grams_to_kg_string;
use crate::service::applications::case::load_visible;
use crate::service::applications::filing::kg_schema;
use crate::service::commands::{instant_schema, text_schema, valid_instant, valid_kg, valid_text, validation_problems};
use crate::service::error::{FieldProblem, Location, validation_error};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;
