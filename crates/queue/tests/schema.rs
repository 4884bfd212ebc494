//! The two backends' schemas, column by column: freshly migrated, SQLite and PostgreSQL must
//! have the same tables, and in each the same columns in the same order, with the same
//! kind of type (integer, text, real, blob), nullability and default, the same primary key
//! and the same indexes (columns, order, uniqueness, partial predicate).
//!
//! Each schema is read from the database itself, not from the migrations' text: SQLite's
//! `pragma_table_info`, `pragma_index_list` and `pragma_index_xinfo`, PostgreSQL's
//! `information_schema` and `pg_indexes`, both turned into one [`Schema`] and compared by
//! [`differences`]. The tests of `differences` show that it catches each kind of
//! difference. The PostgreSQL half runs when `PKGIMPORT_TEST_PG_URL` is set (under CI it
//! must be).

#[expect(
    dead_code,
    reason = "the schemas are compared across the backends, not tested on each"
)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::TestDb;

/// A table's columns, in order, its primary key and its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    indexes: BTreeSet<Index>,
}

/// Every table of a database, by name.
type Schema = BTreeMap<String, Table>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    kind: Kind,
    nullable: bool,
    /// The default as written, normalised (see [`normalise`]).
    default: Option<String>,
}

/// A column's type, as both backends can have it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Real,
    Blob,
    /// A type that maps onto none of the four: always a difference worth a look.
    Other(String),
}

/// An index other than the primary key's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    /// `None` for the index of a `UNIQUE` constraint, which each backend names its own way.
    name: Option<String>,
    unique: bool,
    /// `column` or `column DESC`, in order.
    columns: Vec<String>,
    /// The `WHERE` of a partial index, normalised.
    predicate: Option<String>,
}

/// Tables that only one backend has, by design: PostgreSQL keeps the schema version in a
/// table, SQLite in `PRAGMA user_version`.
const BOOKKEEPING: [&str; 1] = ["schema_version"];

/// SQLite's type affinity rules (section 3.1 of its datatype documentation).
fn sqlite_kind(declared: &str) -> Kind {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Kind::Integer
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k)) {
        Kind::Text
    } else if t.contains("BLOB") || t.is_empty() {
        Kind::Blob
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|k| t.contains(k)) {
        Kind::Real
    } else {
        Kind::Other(declared.to_owned())
    }
}

/// PostgreSQL's `information_schema.columns.data_type`.
fn postgres_kind(data_type: &str) -> Kind {
    match data_type {
        "bigint" | "integer" | "smallint" => Kind::Integer,
        "text" | "character varying" | "character" => Kind::Text,
        "double precision" | "real" => Kind::Real,
        "bytea" => Kind::Blob,
        other => Kind::Other(other.to_owned()),
    }
}

/// An SQL expression (a default or an index predicate) in a form both backends agree on:
/// PostgreSQL's casts (`'x'::text`) and the parentheses it adds dropped, whitespace
/// collapsed, and keywords, outside string literals, in lower case.
fn normalise(expr: &str) -> String {
    let mut out = String::new();
    let mut chars = expr.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            out.push(c);
            quoted = c != '\'';
            continue;
        }
        match c {
            '\'' => {
                quoted = true;
                out.push(c);
            }
            '(' | ')' => {}
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        word.push(c);
                        chars.next();
                    } else if c == ' ' && matches!(word.as_str(), "character" | "double") {
                        // Two-word type names: `character varying`, `double precision`.
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out.trim().to_owned()
}

/// Reads the schema of the SQLite database at `path`.
#[expect(
    clippy::disallowed_methods,
    reason = "reads the schema of a test's own database, read-only"
)]
fn sqlite_schema(path: &Path) -> Schema {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    read_sqlite(&db)
}

fn read_sqlite(db: &rusqlite::Connection) -> Schema {
    let names: Vec<String> = db
        .prepare(
            "SELECT name FROM sqlite_master
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut schema = Schema::new();
    for table in names {
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        let columns = db
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)
                 ORDER BY cid",
            )
            .unwrap()
            .query_map([&table], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .unwrap()
            .map(|r| {
                let (name, declared, not_null, default, pk) = r.unwrap();
                if pk > 0 {
                    primary_key.push((pk, name.clone()));
                }
                Column {
                    kind: sqlite_kind(&declared),
                    // Primary key columns are NOT NULL on PostgreSQL whatever the
                    // declaration says; on SQLite only an INTEGER PRIMARY KEY is, and the
                    // others should be declared so. Both are kept with a key value, so
                    // both count as not null.
                    nullable: !not_null && pk == 0,
                    default: default.as_deref().map(normalise),
                    name,
                }
            })
            .collect();
        primary_key.sort();
        let indexes = db
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")
            .unwrap()
            .query_map([&table], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .filter(|(_, _, origin, _)| origin != "pk")
            .map(|(name, unique, origin, partial)| {
                let columns = db
                    .prepare(
                        "SELECT name, \"desc\" FROM pragma_index_xinfo(?1) WHERE key
                         ORDER BY seqno",
                    )
                    .unwrap()
                    .query_map([&name], |r| {
                        let column: Option<String> = r.get(0)?;
                        let desc: bool = r.get(1)?;
                        let column = column.unwrap_or_else(|| "<expression>".to_owned());
                        Ok(if desc {
                            format!("{column} DESC")
                        } else {
                            column
                        })
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let predicate = partial.then(|| {
                    let sql: String = db
                        .query_row(
                            "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                            [&name],
                            |r| r.get(0),
                        )
                        .unwrap();
                    let at = sql
                        .to_ascii_uppercase()
                        .rfind(" WHERE ")
                        .unwrap_or_else(|| panic!("no WHERE in the partial index {sql}"));
                    normalise(&sql[at + " WHERE ".len()..])
                });
                Index {
                    name: (origin == "c").then_some(name),
                    unique,
                    columns,
                    predicate,
                }
            })
            .collect();
        schema.insert(
            table,
            Table {
                columns,
                primary_key: primary_key.into_iter().map(|(_, c)| c).collect(),
                indexes,
            },
        );
    }
    schema
}

/// Reads the schema of the PostgreSQL database at `url` (its current schema, `public`).
fn postgres_schema(url: &str) -> Schema {
    let mut db = pkgimport_testkit::pg::connect(url);
    let mut schema = Schema::new();
    for row in db
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text,
                    column_default::text
             FROM information_schema.columns
             WHERE table_schema = current_schema()
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .unwrap()
    {
        let table: String = row.get(0);
        let default: Option<String> = row.get(4);
        schema
            .entry(table)
            .or_insert_with(|| Table {
                columns: Vec::new(),
                primary_key: Vec::new(),
                indexes: BTreeSet::new(),
            })
            .columns
            .push(Column {
                name: row.get(1),
                kind: postgres_kind(row.get(2)),
                nullable: row.get::<_, &str>(3) == "YES",
                default: default.as_deref().map(normalise),
            });
    }
    // Constraint name → its kind, for the indexes that back a constraint.
    let mut constraints: BTreeMap<(String, String), String> = BTreeMap::new();
    for row in db
        .query(
            "SELECT tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text,
                    kcu.column_name::text
             FROM information_schema.table_constraints tc
             JOIN information_schema.key_column_usage kcu
               ON kcu.constraint_schema = tc.constraint_schema
              AND kcu.constraint_name = tc.constraint_name
              AND kcu.table_name = tc.table_name
             WHERE tc.table_schema = current_schema()
               AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
             ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position",
            &[],
        )
        .unwrap()
    {
        let (table, constraint, kind): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        if kind == "PRIMARY KEY"
            && let Some(t) = schema.get_mut(&table)
        {
            t.primary_key.push(row.get(3));
        }
        constraints.insert((table, constraint), kind);
    }
    for row in db
        .query(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes
             WHERE schemaname = current_schema()",
            &[],
        )
        .unwrap()
    {
        let (table, name, definition): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let constraint = constraints.get(&(table.clone(), name.clone()));
        if constraint.is_some_and(|kind| kind == "PRIMARY KEY") {
            continue;
        }
        let index = parse_index_definition(&definition, constraint.is_none().then_some(name));
        if let Some(t) = schema.get_mut(&table) {
            t.indexes.insert(index);
        }
    }
    schema
}

/// An [`Index`] from PostgreSQL's `CREATE [UNIQUE] INDEX name ON table USING method
/// (columns) [WHERE predicate]`.
fn parse_index_definition(definition: &str, name: Option<String>) -> Index {
    let open = definition
        .find(" USING ")
        .and_then(|at| definition[at..].find('(').map(|p| at + p))
        .unwrap_or_else(|| panic!("an index definition: {definition}"));
    let mut depth = 0;
    let mut close = open;
    let mut columns = Vec::new();
    let mut start = open + 1;
    for (i, c) in definition[open..].char_indices() {
        let i = open + i;
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = i;
                    break;
                }
            }
            ',' if depth == 1 => {
                columns.push(definition[start..i].trim().replace('"', ""));
                start = i + 1;
            }
            _ => {}
        }
    }
    columns.push(definition[start..close].trim().replace('"', ""));
    let predicate = definition[close + 1..]
        .trim()
        .strip_prefix("WHERE ")
        .map(normalise);
    Index {
        name,
        unique: definition.starts_with("CREATE UNIQUE INDEX"),
        columns,
        predicate,
    }
}

/// Every difference between two schemas, one sentence each, naming the table and the
/// column or index: empty when they agree.
fn differences(a_name: &str, a: &Schema, b_name: &str, b: &Schema) -> Vec<String> {
    let fix = "make both migration lists in crates/queue/src/migrations.rs create the same";
    let mut out = Vec::new();
    for (name, only, other) in a
        .keys()
        .filter(|t| !b.contains_key(*t))
        .map(|t| (t, a_name, b_name))
        .chain(
            b.keys()
                .filter(|t| !a.contains_key(*t))
                .map(|t| (t, b_name, a_name)),
        )
    {
        if !BOOKKEEPING.contains(&name.as_str()) {
            out.push(format!(
                "table {name}: only on {only}, not on {other}; {fix} tables"
            ));
        }
    }
    for (table, ta) in a {
        let Some(tb) = b.get(table) else { continue };
        let names = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let (na, nb) = (names(ta), names(tb));
        if na != nb {
            out.push(format!(
                "table {table}: columns {na:?} on {a_name}, {nb:?} on {b_name}: names and order \
                 differ; {fix} columns in the same order"
            ));
        }
        for ca in &ta.columns {
            let Some(cb) = tb.columns.iter().find(|c| c.name == ca.name) else {
                continue;
            };
            let column = format!("{table}.{}", ca.name);
            if ca.kind != cb.kind {
                out.push(format!(
                    "{column}: type {:?} on {a_name}, {:?} on {b_name}; {fix} types \
                     (BIGINT for INTEGER, BYTEA for BLOB, DOUBLE PRECISION for REAL)",
                    ca.kind, cb.kind
                ));
            }
            if ca.nullable != cb.nullable {
                let says = |n: bool| if n { "nullable" } else { "NOT NULL" };
                out.push(format!(
                    "{column}: {} on {a_name}, {} on {b_name}; {fix} constraints",
                    says(ca.nullable),
                    says(cb.nullable)
                ));
            }
            if ca.default != cb.default {
                out.push(format!(
                    "{column}: default {:?} on {a_name}, {:?} on {b_name}; {fix} defaults",
                    ca.default, cb.default
                ));
            }
        }
        if ta.primary_key != tb.primary_key {
            out.push(format!(
                "table {table}: primary key {:?} on {a_name}, {:?} on {b_name}; {fix} keys",
                ta.primary_key, tb.primary_key
            ));
        }
        for (index, only, other) in ta
            .indexes
            .difference(&tb.indexes)
            .map(|i| (i, a_name, b_name))
            .chain(
                tb.indexes
                    .difference(&ta.indexes)
                    .map(|i| (i, b_name, a_name)),
            )
        {
            out.push(format!(
                "table {table}: index {index:?} only on {only}, not on {other}; {fix} indexes"
            ));
        }
    }
    out
}

#[test]
fn both_backends_migrate_to_the_same_columns_types_and_indexes() {
    let sqlite_db = TestDb::sqlite();
    drop(sqlite_db.store());
    let sqlite = sqlite_schema(&sqlite_db.state_dir().join(pkgimport_queue::DB_FILE));
    // A sanity check of the reader, so that two empty readings cannot agree.
    assert!(sqlite.len() >= 10, "{sqlite:#?}");
    let jobs = &sqlite["jobs"];
    assert_eq!(jobs.primary_key, ["id"]);
    assert!(
        jobs.indexes.iter().any(|i| i.unique
            && i.columns == ["package"]
            && i.predicate.as_deref() == Some("state = 'queued'")),
        "{jobs:#?}"
    );

    let Some(pg_db) = TestDb::postgres() else {
        return common::skipped();
    };
    drop(pg_db.store());
    let postgres = postgres_schema(pg_db.url().unwrap());
    let found = differences("sqlite", &sqlite, "postgresql", &postgres);
    assert!(
        found.is_empty(),
        "the backends' schemas differ:\n{}",
        found.join("\n")
    );
}

/// A schema read from SQL run on an in-memory SQLite database.
fn schema_of(sql: &str) -> Schema {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(sql).unwrap();
    read_sqlite(&db)
}

const JOBS: &str = "
    CREATE TABLE jobs (
        id        INTEGER PRIMARY KEY,
        package   TEXT    NOT NULL,
        state     TEXT    NOT NULL DEFAULT 'queued',
        priority  INTEGER NOT NULL DEFAULT 0,
        weight    REAL,
        payload   BLOB
    );
    CREATE UNIQUE INDEX jobs_one_queued ON jobs (package) WHERE state = 'queued';
    CREATE INDEX jobs_claim ON jobs (state, priority DESC, id);
";

#[test]
fn differences_finds_nothing_between_equal_schemas() {
    assert_eq!(
        differences("a", &schema_of(JOBS), "b", &schema_of(JOBS)),
        Vec::<String>::new()
    );
}

#[test]
fn differences_catches_a_column_that_differs_in_each_way() {
    let base = schema_of(JOBS);
    for (what, changed, expected) in [
        (
            "a type",
            JOBS.replace("priority  INTEGER", "priority  TEXT"),
            "jobs.priority: type Integer on a, Text on b",
        ),
        (
            "nullability",
            JOBS.replace("package   TEXT    NOT NULL", "package   TEXT"),
            "jobs.package: NOT NULL on a, nullable on b",
        ),
        (
            "a default",
            JOBS.replace("DEFAULT 'queued'", "DEFAULT 'running'"),
            "jobs.state: default Some(\"'queued'\") on a, Some(\"'running'\") on b",
        ),
        (
            "a missing default",
            JOBS.replace("NOT NULL DEFAULT 0", "NOT NULL"),
            "jobs.priority: default Some(\"0\") on a, None on b",
        ),
        (
            "the order",
            JOBS.replace(
                "weight    REAL,\n        payload   BLOB",
                "payload   BLOB,\n        weight    REAL",
            ),
            "names and order differ",
        ),
        (
            "an extra column",
            JOBS.replace("payload   BLOB", "payload   BLOB,\n        extra TEXT"),
            "names and order differ",
        ),
        (
            "the primary key",
            JOBS.replace(
                "id        INTEGER PRIMARY KEY",
                "id        INTEGER NOT NULL",
            ),
            "table jobs: primary key [\"id\"] on a, [] on b",
        ),
        (
            "a partial index's predicate",
            JOBS.replace("WHERE state = 'queued'", "WHERE state = 'running'"),
            "index Index { name: Some(\"jobs_one_queued\")",
        ),
        (
            "an index's order",
            JOBS.replace("priority DESC", "priority"),
            "index Index { name: Some(\"jobs_claim\")",
        ),
        (
            "a unique index",
            JOBS.replace("CREATE UNIQUE INDEX", "CREATE INDEX"),
            "index Index { name: Some(\"jobs_one_queued\"), unique: true",
        ),
        (
            "a table",
            format!("{JOBS} CREATE TABLE other (x INTEGER);"),
            "table other: only on b, not on a",
        ),
    ] {
        let found = differences("a", &base, "b", &schema_of(&changed));
        assert!(
            found.iter().any(|d| d.contains(expected)),
            "{what}: expected a difference containing {expected:?}, found {found:#?}"
        );
    }
}

#[test]
fn postgresql_types_casts_and_index_definitions_map_onto_sqlites() {
    assert_eq!(postgres_kind("bigint"), sqlite_kind("INTEGER"));
    assert_eq!(postgres_kind("text"), sqlite_kind("TEXT"));
    assert_eq!(postgres_kind("double precision"), sqlite_kind("REAL"));
    assert_eq!(postgres_kind("bytea"), sqlite_kind("BLOB"));
    assert_ne!(postgres_kind("bigint"), sqlite_kind("TEXT"));
    assert_eq!(postgres_kind("jsonb"), Kind::Other("jsonb".to_owned()));

    assert_eq!(normalise("''::text"), normalise("''"));
    assert_eq!(
        normalise("(state = 'queued'::character varying)"),
        "state = 'queued'"
    );
    assert_eq!(normalise("(ended_at IS NULL)"), "ended_at is null");
    assert_eq!(normalise("'A  (b)'::text"), "'A  (b)'");

    let index = parse_index_definition(
        "CREATE UNIQUE INDEX jobs_one_queued ON public.jobs USING btree (package, \
         priority DESC) WHERE (state = 'queued'::text)",
        Some("jobs_one_queued".to_owned()),
    );
    assert_eq!(
        index,
        Index {
            name: Some("jobs_one_queued".to_owned()),
            unique: true,
            columns: vec!["package".to_owned(), "priority DESC".to_owned()],
            predicate: Some("state = 'queued'".to_owned()),
        }
    );
    assert_eq!(
        schema_of(JOBS)["jobs"]
            .indexes
            .iter()
            .find(|i| i.name.as_deref() == Some("jobs_one_queued"))
            .map(|i| (&i.columns[..1], &i.predicate)),
        Some((&index.columns[..1], &index.predicate))
    );
}
