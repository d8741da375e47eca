//! Migrations: every down step reverts cleanly on both backends, and `src/db/schema.rs` matches
//! what the migrations build on each backend (no drift).

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use hwtransfer::db::{DbConnection, migrate};

use crate::both_backends;
use crate::support::{Backend, TestDb};

/// column name -> (diesel type, nullable)
type Columns = BTreeMap<String, (String, bool)>;

/// Reads the `diesel::table!` blocks of src/db/schema.rs.
fn schema_rs_tables() -> BTreeMap<String, Columns> {
    let text = include_str!("../../src/db/schema.rs");
    let mut tables = BTreeMap::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "diesel::table! {" {
            continue;
        }
        let header = lines.next().unwrap();
        let name = header.split_whitespace().next().unwrap().to_string();
        let mut cols = Columns::new();
        for col in lines.by_ref() {
            if col == "}" {
                break;
            }
            let (col_name, ty) = col.trim_end_matches(',').split_once(" -> ").unwrap();
            let (ty, nullable) = match ty.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>').to_string(), true),
                None => (ty.to_string(), false),
            };
            cols.insert(col_name.to_string(), (ty, nullable));
        }
        tables.insert(name, cols);
    }
    tables
}

fn diesel_type_from_sql(sql: &str) -> String {
    match sql.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "integer" => "Integer",
        "bigint" => "BigInt",
        "boolean" => "Bool",
        "timestamp" | "timestamp without time zone" => "Timestamp",
        other => panic!("column type {other} is not one both backends share"),
    }
    .to_string()
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

#[derive(QueryableByName)]
struct SqliteTable {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    #[diesel(column_name = type_)]
    type_: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

fn database_tables(db: &TestDb) -> BTreeMap<String, Columns> {
    let mut tables: BTreeMap<String, Columns> = BTreeMap::new();
    match db.backend {
        Backend::Postgres => {
            let mut c = PgConnection::establish(&db.url).unwrap();
            let cols: Vec<PgColumn> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
                 is_nullable::text AS is_nullable FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            )
            .load(&mut c)
            .unwrap();
            for col in cols {
                tables.entry(col.table_name).or_default().insert(
                    col.column_name,
                    (diesel_type_from_sql(&col.data_type), col.is_nullable == "YES"),
                );
            }
        }
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let mut c = SqliteConnection::establish(path).unwrap();
            let names: Vec<SqliteTable> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '__diesel_schema_migrations'",
            )
            .load(&mut c)
            .unwrap();
            for t in names {
                let cols: Vec<SqliteColumn> = diesel::sql_query(format!(
                    "SELECT name, type AS type_, \"notnull\" AS not_null, pk FROM pragma_table_info('{}')",
                    t.name
                ))
                .load(&mut c)
                .unwrap();
                let entry = tables.entry(t.name).or_default();
                for col in cols {
                    // A SQLite primary-key column is NOT NULL in diesel's eyes.
                    entry.insert(
                        col.name,
                        (diesel_type_from_sql(&col.type_), col.not_null == 0 && col.pk == 0),
                    );
                }
            }
        }
    }
    tables
}

fn migrated(backend: Backend) -> TestDb {
    let db = TestDb::empty(backend);
    let pool = hwtransfer::db::pool::Db::connect(&db.url, 2, std::time::Duration::from_secs(10)).unwrap();
    let mut conn = pool.get().unwrap();
    let applied = migrate::run_pending(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert!(migrate::is_up_to_date(&mut conn).unwrap());
    db
}

async fn schema_matches_migrations(backend: Backend) {
    let db = migrated(backend);
    let expected = schema_rs_tables();
    assert!(expected.len() >= 7, "parsed {} tables from schema.rs", expected.len());
    let actual = database_tables(&db);
    assert_eq!(
        actual, expected,
        "src/db/schema.rs and the {backend:?} migrations disagree"
    );
}
both_backends!(schema_matches_migrations, schema_matches_migrations);

async fn every_down_step_reverts(backend: Backend) {
    let db = migrated(backend);
    let pool = hwtransfer::db::pool::Db::connect(&db.url, 2, std::time::Duration::from_secs(10)).unwrap();
    {
        let mut conn = pool.get().unwrap();
        // With data in the tables, too.
        hwtransfer::db::catalogue::ensure_embedded(&mut conn).unwrap();
        hwtransfer::db::calendar::ensure_embedded(&mut conn).unwrap();
        let reverted = migrate::revert_all(&mut conn).unwrap();
        assert!(!reverted.is_empty());
        assert!(!migrate::is_up_to_date(&mut conn).unwrap());
    }
    assert!(
        database_tables(&db).is_empty(),
        "tables left after reverting every migration"
    );
    // And up again after down.
    let mut conn = pool.get().unwrap();
    migrate::run_pending(&mut conn).unwrap();
    assert_eq!(database_tables(&db), schema_rs_tables());
    let is_pg = matches!(*conn, DbConnection::Postgresql(_));
    assert_eq!(is_pg, backend == Backend::Postgres);
}
both_backends!(every_down_step_reverts, every_down_step_reverts);

/// Several replicas starting at once: the advisory lock lets one migrate, the others wait and find
/// nothing pending.
#[actix_web::test]
async fn concurrent_startups_migrate_once() {
    let db = TestDb::empty(Backend::Postgres);
    let url = db.url.clone();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let pool = hwtransfer::db::pool::Db::connect(&url, 2, std::time::Duration::from_secs(30)).unwrap();
                hwtransfer::app::prepare_database(&pool, chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap()).unwrap()
            })
        })
        .collect();
    let applied: Vec<Vec<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(applied.iter().filter(|a| !a.is_empty()).count(), 1, "{applied:?}");
    let mut c = PgConnection::establish(&url).unwrap();
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query("SELECT count(*) AS n FROM waste_codes")
        .get_result(&mut c)
        .unwrap();
    assert_eq!(n.n, 467, "the catalogue is loaded exactly once");
}
