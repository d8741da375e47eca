//! The database checks of an import (operators, entries already stored, the same entry twice)
//! and the write of every row as a proposed entry, in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};

use crate::auth::principal::Principal;
use crate::db::registry::OperatorRow;
use crate::db::whitelist::{EntryFilter, EntryRow};
use crate::db::{self, DbConnection, DbResult};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::ids::Uscc;
use crate::service::whitelist::proposals::{EntryProposal, check_proposal};

use super::*;

/// Entries already stored for (year, operator, source): their scopes.
type ExistingKey = (i32, String, String);

struct Checker<'a> {
    who: &'a Principal,
    today: NaiveDate,
    operators: HashMap<String, Option<OperatorRow>>,
    existing: HashMap<ExistingKey, HashSet<String>>,
    /// (year, operator, source, scope) → the first row that has it.
    seen: HashMap<(i32, String, String, String), u32>,
}

impl Checker<'_> {
    fn operator(&mut self, conn: &mut DbConnection, uscc: &Uscc) -> DbResult<Option<OperatorRow>> {
        if let Some(found) = self.operators.get(uscc.as_str()) {
            return Ok(found.clone());
        }
        let found = db::registry::operator_by_uscc(conn, uscc.as_str())?;
        self.operators.insert(uscc.as_str().to_string(), found.clone());
        Ok(found)
    }

    fn stored_scopes(&mut self, conn: &mut DbConnection, key: &ExistingKey) -> DbResult<&HashSet<String>> {
        if !self.existing.contains_key(key) {
            let filter = EntryFilter {
                year: Some(key.0),
                operator_id: Some(key.1.clone()),
                source_province: Some(key.2.clone()),
                ..Default::default()
            };
            // One operator has at most ~520 scopes (codes and categories) per source and year.
            let scopes = db::whitelist::list_entries(conn, &filter, None, 1000)?
                .into_iter()
                .map(|e| e.scope)
                .collect();
            self.existing.insert(key.clone(), scopes);
        }
        Ok(&self.existing[key])
    }

    /// Checks one row; pushes its problems and returns the entry to insert when it has none.
    fn check(
        &mut self,
        conn: &mut DbConnection,
        r: ParsedRow,
        problems: &mut Vec<ImportProblem>,
    ) -> DbResult<Option<EntryRow>> {
        let before = problems.len();
        let operator = match &r.uscc {
            Some(uscc) => {
                let found = self.operator(conn, uscc)?;
                if found.is_none() {
                    problems.push(ImportProblem::new(
                        r.row,
                        Column::OperatorUscc.name(),
                        &Invalid::new(
                            "entry.unknown_operator",
                            format!("no operator with the unified social credit code {uscc} is registered"),
                        ),
                    ));
                }
                found
            }
            None => None,
        };
        let (Some(year), Some(operator), Some(source), Some(scope), Some(quota)) =
            (r.year, operator, r.source, r.scope, r.quota)
        else {
            return Ok(None);
        };
        let proposal = EntryProposal {
            year,
            operator_id: operator.id.clone(),
            source_province: source,
            scope,
            quota,
            facility: r.facility,
            note: r.note,
        };
        let entry = match check_proposal(conn, self.who, &proposal, self.today)? {
            Ok(entry) => Some(entry),
            Err(found) => {
                problems.extend(
                    found
                        .iter()
                        .map(|(f, i)| ImportProblem::new(r.row, Column::of_field(f), i)),
                );
                None
            }
        };
        let scope_key = proposal.scope.key();
        let key = (year, operator.id, source.as_str(), scope_key.clone());
        match self.seen.get(&key) {
            Some(first) => problems.push(ImportProblem::new(
                r.row,
                Column::Scope.name(),
                &Invalid::new(
                    "import.duplicate_row",
                    format!("row {first} already has this operator, source province, scope and year"),
                ),
            )),
            None => {
                self.seen.insert(key.clone(), r.row);
            }
        }
        let (year, operator_id, source, _) = key;
        if self
            .stored_scopes(conn, &(year, operator_id, source))?
            .contains(&scope_key)
        {
            problems.push(ImportProblem::new(
                r.row,
                Column::Scope.name(),
                &Invalid::new(
                    "entry.duplicate",
                    "an entry for this operator, source province, code or category and year already exists",
                ),
            ));
        }
        Ok(entry.filter(|_| problems.len() == before))
    }
}

pub(super) enum Outcome {
    Problems(Vec<ImportProblem>),
    Valid(usize),
    Created(Vec<String>),
}

pub(super) fn check_and_store(
    conn: &mut DbConnection,
    who: &Principal,
    rows: Vec<ParsedRow>,
    mut problems: Vec<ImportProblem>,
    dry_run: bool,
) -> DbResult<Outcome> {
    let mut checker = Checker {
        who,
        today: shanghai_date(Utc::now()),
        operators: HashMap::new(),
        existing: HashMap::new(),
        seen: HashMap::new(),
    };
    let count = rows.len();
    let mut entries = Vec::with_capacity(count);
    let mut row_numbers = Vec::with_capacity(count);
    for r in rows {
        let row = r.row;
        if let Some(entry) = checker.check(conn, r, &mut problems)? {
            entries.push(entry);
            row_numbers.push(row);
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.row);
        return Ok(Outcome::Problems(problems));
    }
    if dry_run {
        return Ok(Outcome::Valid(count));
    }
    match db::whitelist::insert_entries(conn, &entries)? {
        Ok(()) => Ok(Outcome::Created(entries.into_iter().map(|e| e.id).collect())),
        // Someone stored the same entry between the check and the write: nothing was written.
        Err(index) => Ok(Outcome::Problems(vec![ImportProblem::new(
            row_numbers.get(index).copied().unwrap_or(0),
            Column::Scope.name(),
            &Invalid::new(
                "entry.duplicate",
                "an entry for this operator, source province, code or category and year already exists",
            ),
        )])),
    }
}
