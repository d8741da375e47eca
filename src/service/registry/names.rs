//! Names for display: the parties of the cases and entries a page shows, and the operators a
//! regulator may pick from. Reads only; who may see the case or entry is decided where it is read.

use std::collections::HashMap;

use crate::db;
use crate::domain::ids::ProvinceCode;
use crate::service::Result;
use crate::state::AppState;

/// The names of these enterprises and operators by id (an unknown id is left out), looked up
/// once for a whole page.
pub async fn party_names(
    state: &AppState,
    enterprises: Vec<String>,
    operators: Vec<String>,
) -> Result<HashMap<String, String>> {
    let names = state
        .db
        .run(move |conn| {
            let mut out = HashMap::new();
            for id in enterprises {
                if !out.contains_key(&id)
                    && let Some(e) = db::registry::enterprise_by_id(conn, &id)?
                {
                    out.insert(id, e.name);
                }
            }
            for id in operators {
                if !out.contains_key(&id)
                    && let Some(o) = db::registry::operator_by_id(conn, &id)?
                {
                    out.insert(id, o.name);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(names)
}

/// An operator offered in a form: id, name and credit code.
pub struct OperatorChoice {
    pub id: String,
    pub name: String,
    pub uscc: String,
}

/// Up to 500 operators of a province (all, without one), by id.
pub async fn operator_choices(state: &AppState, province: Option<ProvinceCode>) -> Result<Vec<OperatorChoice>> {
    let province = province.map(|p| p.as_str());
    let rows = state
        .db
        .run(move |conn| db::registry::list_operators(conn, province.as_deref(), None, 500))
        .await?;
    Ok(rows
        .into_iter()
        .map(|o| OperatorChoice {
            id: o.id,
            name: o.name,
            uscc: o.uscc,
        })
        .collect())
}

/// An operator as a person types it: its 18-character credit code when one matches, else the
/// text as an operator id (the use case it goes to refuses an unknown one).
pub async fn operator_id_for(state: &AppState, typed: String) -> Result<String> {
    let id = state
        .db
        .run(move |conn| {
            Ok(match db::registry::operator_by_uscc(conn, &typed)? {
                Some(o) => o.id,
                None => typed,
            })
        })
        .await?;
    Ok(id)
}
