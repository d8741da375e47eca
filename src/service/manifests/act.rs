//! The acts on a manifest: who may ask which, `act` (dispatch, cancel, receipt, rejection), the
//! receipt's discrepancy command, and `record_arrival`.

use super::*;

/// Who may ask `act` of this manifest: the producer dispatches and cancels, the operator
/// receives or rejects; the arrival is recorded by the operator, or by the producer for its
/// carrier (the act says which).
fn may_act(who: &Principal, m: &ManifestRow, act: &ManifestAct) -> bool {
    match (act, &who.role, &who.binding) {
        (
            ManifestAct::Arrive {
                reported_by: ArrivalReporter::Carrier,
                ..
            },
            Role::Enterprise,
            Binding::Enterprise(id),
        ) => *id == m.enterprise_id,
        (
            ManifestAct::Arrive {
                reported_by: ArrivalReporter::Operator,
                ..
            },
            Role::Operator,
            Binding::Operator(id),
        ) => *id == m.operator_id,
        (ManifestAct::Dispatch | ManifestAct::Cancel { .. }, Role::Enterprise, Binding::Enterprise(id)) => {
            *id == m.enterprise_id
        }
        (ManifestAct::Receive { .. } | ManifestAct::Reject { .. }, Role::Operator, Binding::Operator(id)) => {
            *id == m.operator_id
        }
        _ => false,
    }
}

/// Applies one act to a manifest for the caller, with the version it saw when it names one:
/// forbidden when it is not the caller's act, refused with the rule's code when the state does
/// not allow it (an operator without a valid licence, an approval revoked), invalid with every
/// problem of a receipt, stale when someone acted first.
pub async fn act(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    expected: Option<i32>,
    act: ManifestAct,
) -> Result<ManifestDto> {
    let who = &ctx.who;
    let (m, _, _) = load(state, who, id).await?;
    if !may_act(who, &m, &act) {
        return Err(Error::Forbidden(match act {
            ManifestAct::Dispatch | ManifestAct::Cancel { .. } => {
                "only the producer enterprise dispatches or cancels its manifest".into()
            }
            ManifestAct::Arrive { .. } => {
                "only the receiving operator, or the producer for its carrier, records the arrival".into()
            }
            _ => "only the receiving operator confirms receipt".into(),
        }));
    }
    let calendars = state.calendars.clone();
    let (close, percent) = (state.config.office_close, state.config.discrepancy_percent);
    let name = who.name.clone();
    let now = ctx.now;
    let result = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
            let ctx = ManifestContext {
                cal: &cal,
                office_close: close,
                discrepancy_percent: percent,
                name: &name,
                now,
            };
            match db::manifests::act(conn, &ctx, &m.id, expected, &act)? {
                Ok(m) => {
                    let items = db::manifests::items_of(conn, &m.id)?;
                    let found = db::manifests::discrepancies_of(conn, &m.id)?;
                    Ok(Ok((m, items, found)))
                }
                Err(r) => Ok(Err(r)),
            }
        })
        .await
        .map_err(|e| match e {
            db::DbError::Conflict(_) => Error::Conflict("someone acted on the manifest first; reload it".into()),
            other => other.into(),
        })?;
    match result {
        Ok((m, items, found)) => Ok(to_full_dto(m, items, found)),
        Err(ManifestRefusal::State(i)) => Err(Error::Refused(i)),
        Err(ManifestRefusal::Invalid(list)) => Err(Error::Invalid(
            list.into_iter().map(|(p, i)| FieldProblem::body(p, &i)).collect(),
        )),
        Err(ManifestRefusal::Stale { current }) => Err(Error::stale("manifest", current)),
    }
}

/// What the operator found different from the manifest on one line (第18条), and its decision.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscrepancyInput {
    /// The manifest line.
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 0))]
    #[schema(minimum = 0, maximum = 2147483647)]
    pub line: i32,
    /// name (名称), quantity (数量), characteristics (特性), form (形态) or packaging (包装方式).
    #[validate(custom(function = "valid_discrepancy_kind"))]
    #[schema(schema_with = discrepancy_kind_schema)]
    pub kind: String,
    /// What was found, and why.
    #[validate(custom(function = "valid_text::<1000>"))]
    #[schema(schema_with = text_schema::<1000>)]
    pub description: String,
    /// accept: taken as found; refuse: nothing of the line is accepted (0) and it goes back.
    #[validate(custom(function = "valid_discrepancy_decision"))]
    #[schema(schema_with = discrepancy_decision_schema)]
    pub decision: String,
}

fn valid_discrepancy_kind(s: &str) -> std::result::Result<(), ValidationError> {
    DiscrepancyKind::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_discrepancy_decision(s: &str) -> std::result::Result<(), ValidationError> {
    DiscrepancyDecision::parse(s).map(|_| ()).map_err(validation_error)
}

fn discrepancy_kind_schema() -> Schema {
    let kinds: Vec<&str> = DiscrepancyKind::ALL.iter().map(|k| k.as_str()).collect();
    crate::service::commands::enum_schema(
        &kinds,
        "what differs: name, quantity, characteristics, form or packaging (部令第23号 第18条)",
    )
}

fn discrepancy_decision_schema() -> Schema {
    crate::service::commands::enum_schema(
        &["accept", "refuse"],
        "the operator's decision: accept the waste as found, or refuse the line",
    )
}

impl DiscrepancyInput {
    /// The domain's discrepancy (the fields were validated).
    pub fn to_domain(&self) -> std::result::Result<Discrepancy, Invalid> {
        Ok(Discrepancy {
            line: self.line,
            kind: DiscrepancyKind::parse(&self.kind)?,
            description: self.description.trim().to_string(),
            decision: DiscrepancyDecision::parse(&self.decision)?,
        })
    }
}

/// The arrival of a load at the operator: when (now when left out).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalInput {
    /// When the load arrived; not before dispatch, not in the future. Now when left out.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_instant"))]
    #[schema(schema_with = instant_schema)]
    pub arrived_at: Option<String>,
}

/// Records the arrival of a load (第18条): the operator, or the producer enterprise for its
/// carrier. The five-working-day receipt clock starts from it.
pub async fn record_arrival(
    state: &AppState,
    ctx: &Ctx,
    id: String,
    expected: Option<i32>,
    input: ArrivalInput,
) -> Result<ManifestDto> {
    if let Err(e) = input.validate() {
        return Err(Error::Invalid(validation_problems(&e)));
    }
    let at = match input.arrived_at.as_deref() {
        Some(s) => parse_instant(s).map_err(|e| Error::invalid_field("/arrived_at", &e))?,
        None => ctx.now,
    };
    let reported_by = match ctx.who.role {
        Role::Enterprise => ArrivalReporter::Carrier,
        _ => ArrivalReporter::Operator,
    };
    act(state, ctx, id, expected, ManifestAct::Arrive { at, reported_by }).await
}
