//! The name rules against the answers Milvus 2.6 gives, case by case.

use super::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Collection,
    Alias,
    Partition,
    Field,
    Database,
    Index,
    User,
    Password,
    Role,
    ResourceGroup,
}

fn check(kind: Kind, name: &str) -> Result<()> {
    match kind {
        Kind::Collection => collection(name),
        Kind::Alias => alias(name),
        Kind::Partition => partition(name),
        Kind::Field => field(name),
        Kind::Database => database(name),
        Kind::Index => index(name),
        Kind::User => user(name),
        Kind::Password => password(name),
        Kind::Role => role(name),
        Kind::ResourceGroup => resource_group(name),
    }
}

/// `Ok(())` or the (code, legacy code, reason) the status carries.
fn answer(kind: Kind, name: &str) -> std::result::Result<(), (i32, i32, String)> {
    check(kind, name).map_err(|e| e.status_parts())
}

fn accepted(kind: Kind, names: &[&str]) {
    for name in names {
        assert_eq!(answer(kind, name), Ok(()), "{kind:?} {name:?}");
    }
}

fn refused(kind: Kind, cases: &[(&str, i32, &str)]) {
    for (name, code, reason) in cases {
        let legacy = if *code == 1100 { 5 } else { 1 };
        assert_eq!(
            answer(kind, name),
            Err((*code, legacy, reason.to_string())),
            "{kind:?} {name:?}"
        );
    }
}

fn long(n: usize) -> String {
    "a".repeat(n)
}

#[test]
fn collection_names() {
    let max = long(255);
    accepted(Kind::Collection, &["_a", "a_1", "A", "_", "_12name", &max]);
    let over = long(256);
    let over_msg = format!(
        "Invalid collection name: {over}. the length of a collection name must be less than \
         255 characters: invalid parameter"
    );
    let first = |n: &str| {
        format!(
            "Invalid collection name: {n}. the first character of a collection name must be an \
             underscore or letter: invalid parameter"
        )
    };
    let rest = |n: &str| {
        format!(
            "Invalid collection name: {n}. collection name can only contain numbers, letters and \
             underscores: invalid parameter"
        )
    };
    refused(
        Kind::Collection,
        &[
            (
                "",
                1100,
                "collection name should not be empty: invalid parameter",
            ),
            (&over, 1100, &over_msg),
            ("12-s", 1100, &first("12-s")),
            ("12 s", 1100, &first("12 s")),
            ("(mn)", 1100, &first("(mn)")),
            ("中文", 1100, &first("中文")),
            ("%$#", 1100, &first("%$#")),
            (" ", 1100, &first(" ")),
            ("  ", 1100, &first("  ")),
            ("español", 1100, &rest("español")),
            ("a-b", 1100, &rest("a-b")),
            ("a$b", 1100, &rest("a$b")),
            ("a ", 1100, &rest("a ")),
        ],
    );
}

#[test]
fn lengths_count_bytes_not_characters() {
    // 128 two-byte letters are 256 bytes: too long before the character check.
    let wide = "é".repeat(128);
    let reason = answer(Kind::Collection, &wide).expect_err("too long").2;
    assert!(
        reason.contains("must be less than 255 characters"),
        "{reason}"
    );
}

#[test]
fn alias_names() {
    accepted(Kind::Alias, &["_a", "alias_1"]);
    refused(
        Kind::Alias,
        &[
            (
                "",
                1100,
                "collection alias should not be empty: invalid parameter",
            ),
            (
                "12-s",
                1100,
                "Invalid collection alias: 12-s. the first character of a collection alias must \
                 be an underscore or letter: invalid parameter",
            ),
            (
                "a-b",
                1100,
                "Invalid collection alias: a-b. collection alias can only contain numbers, \
                 letters and underscores: invalid parameter",
            ),
        ],
    );
}

#[test]
fn partition_names() {
    // Unlike collections: a leading digit and dashes are fine, white space is trimmed.
    let max = long(255);
    accepted(
        Kind::Partition,
        &["_a", "a_1", "12-s", "1", "p-1", " p ", &max],
    );
    let over = long(256);
    let over_msg = format!(
        "Invalid partition name: {over}. The length of a partition name must be less than 255 \
         characters."
    );
    refused(
        Kind::Partition,
        &[
            (
                "",
                65535,
                "Invalid partition name: . Partition name should not be empty.",
            ),
            (
                " ",
                65535,
                "Invalid partition name: . Partition name should not be empty.",
            ),
            (&over, 65535, &over_msg),
            (
                "(mn)",
                65535,
                "Invalid partition name: (mn). The first character of a partition name must be \
                 an underscore or letter.",
            ),
            (
                "中文",
                65535,
                "Invalid partition name: 中文. The first character of a partition name must be an \
                 underscore or letter.",
            ),
            (
                "12 s",
                65535,
                "Invalid partition name: 12 s. Partition name can only contain numbers, letters \
                 and underscores.",
            ),
            (
                "%$#",
                65535,
                "Invalid partition name: %$#. The first character of a partition name must be an \
                 underscore or letter.",
            ),
        ],
    );
}

#[test]
fn field_names_and_keywords() {
    let max = long(255);
    accepted(
        Kind::Field,
        &["_a", "a_1", "vec", "LIKE", "Exists", "null", " id ", &max],
    );
    let first = |n: &str| {
        format!(
            "Invalid field name: {n}. The first character of a field name must be an underscore \
             or letter.: field name invalid[field={n}]"
        )
    };
    let over = long(256);
    let over_msg = format!(
        "Invalid field name: {over}. The length of a field name must be less than 255 \
         characters.: field name invalid[field={over}]"
    );
    refused(
        Kind::Field,
        &[
            (
                "",
                1701,
                "field name should not be empty: field name invalid[field=]",
            ),
            (
                "  ",
                1701,
                "field name should not be empty: field name invalid[field=]",
            ),
            (&over, 1701, &over_msg),
            ("123abc", 1701, &first("123abc")),
            ("中文", 1701, &first("中文")),
            ("$meta", 1701, &first("$meta")),
            (
                "español",
                1701,
                "Invalid field name: español. Field name can only contain numbers, letters, and \
                 underscores.: field name invalid[field=español]",
            ),
        ],
    );
    for kw in FIELD_NAME_KEYWORDS.iter().filter(|k| !k.starts_with('$')) {
        let reason = format!(
            "Invalid field name: {kw}. {kw} is keyword in milvus.: field name invalid[field={kw}]"
        );
        refused(Kind::Field, &[(kw, 1701, &reason)]);
    }
    // Milvus 2.6's list: 34 words, among them the filter operators and literals.
    assert_eq!(FIELD_NAME_KEYWORDS.len(), 34);
    for kw in [
        "like",
        "and",
        "or",
        "not",
        "in",
        "true",
        "false",
        "json_contains",
        "TEXT_MATCH",
    ] {
        assert!(FIELD_NAME_KEYWORDS.contains(&kw), "{kw}");
    }
}

#[test]
fn database_names() {
    accepted(Kind::Database, &["default", "_a", "db_1"]);
    let bad = |n: &str, msg: &str| {
        (
            n.to_string(),
            format!("{msg}: invalid database name[database={n}]"),
        )
    };
    let cases = [
        bad("", "database name couldn't be empty"),
        bad(
            &long(256),
            "the length of a database name must be less than 255 characters",
        ),
        bad(
            "12-s",
            "the first character of a database name must be an underscore or letter",
        ),
        bad(
            "db-1",
            "database name can only contain numbers, letters and underscores",
        ),
        bad(
            "中文",
            "the first character of a database name must be an underscore or letter",
        ),
    ];
    for (name, reason) in &cases {
        refused(Kind::Database, &[(name, 802, reason)]);
    }
}

#[test]
fn index_names() {
    accepted(Kind::Index, &["", "  ", "_a", "idx_1", "vec[0]"]);
    refused(
        Kind::Index,
        &[
            (
                "1idx",
                65535,
                "Invalid index name: 1idx. The first character of a index name must be an \
                 underscore or letter.",
            ),
            (
                "a-b",
                65535,
                "Invalid index name: a-b. Index name can only contain numbers, letters, and \
                 underscores.",
            ),
        ],
    );
}

#[test]
fn user_names_and_passwords() {
    let max = long(32);
    accepted(Kind::User, &["root", "a.b-c_1", &max]);
    let over = long(33);
    let over_msg = format!(
        "invalid username {over} with length 33, the length of username must be less than 32: \
         invalid parameter"
    );
    refused(
        Kind::User,
        &[
            ("", 1100, "username must be not empty: invalid parameter"),
            (" ", 1100, "username must be not empty: invalid parameter"),
            (&over, 1100, &over_msg),
            (
                "_a",
                1100,
                "invalid user name _a, the first character must be a letter, but got _: invalid \
                 parameter",
            ),
            (
                "a b",
                1100,
                "invalid user name a b, username must contain only numbers, letters, \
                 underscores, dots, and hyphens, but got %!s(uint8=32): invalid parameter",
            ),
        ],
    );
    accepted(Kind::Password, &["123456", &long(72)]);
    refused(
        Kind::Password,
        &[
            (
                "12345",
                1100,
                "invalid password length: invalid parameter[5 out of range 6 <= value <= 72]",
            ),
            (
                &long(73),
                1100,
                "invalid password length: invalid parameter[73 out of range 6 <= value <= 72]",
            ),
        ],
    );
}

#[test]
fn role_and_resource_group_names() {
    accepted(Kind::Role, &["admin", "_r", "r$1"]);
    refused(
        Kind::Role,
        &[
            (
                "",
                1100,
                "role name should be not empty: invalid parameter[expected=not empty][actual=]",
            ),
            (
                "1r",
                1100,
                "the first character of role name must be an underscore or letter: invalid \
                 parameter[expected=95][actual=49]",
            ),
            (
                "r-1",
                1100,
                "role name can only contain numbers, letters, underscores, and allowed \
                 characters ($), found - at 1: invalid parameter",
            ),
        ],
    );
    accepted(Kind::ResourceGroup, &["__default_resource_group", "rg_1"]);
    refused(
        Kind::ResourceGroup,
        &[
            ("", 65535, "resource group name couldn't be empty"),
            (
                "1rg",
                1100,
                "Invalid resource group name 1rg. the first character of a resource group name \
                 must be an underscore or letter: invalid parameter",
            ),
        ],
    );
}
