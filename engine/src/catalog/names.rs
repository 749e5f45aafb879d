//! The name rules of Milvus 2.6, with the code and text Milvus answers.
//!
//! pymilvus users match on the exact `code` and message of a refused name, so
//! each kind of name keeps Milvus's own rule and wording: collection and alias
//! names are ASCII words of at most `proxy.maxNameLength` (255) bytes; partition
//! names may also start with a digit and contain `-`; field names must not be a
//! filter keyword; user names are at most 32 bytes and may contain `.` and `-`;
//! role names may contain `$`; an empty index name means "choose one". Milvus
//! checks bytes, not characters, so `中文` fails on its first byte and lengths
//! are UTF-8 lengths. Some kinds trim surrounding white space before checking
//! (partition, field, index, user and role names) and some do not (collection,
//! alias, database and resource group names), again as Milvus does.
//!
//! Several texts differ in capitalisation, punctuation and code from one kind to
//! the next (partition and index names even answer the generic code 65535);
//! that is Milvus's behaviour, kept on purpose.

use crate::error::{parameter_invalid_msg as parameter, refuse, Result};

/// Milvus's `proxy.maxNameLength` default, in bytes.
pub const MAX_NAME_LENGTH: usize = 255;
/// Milvus's `proxy.maxUsernameLength` default, in bytes.
pub const MAX_USERNAME_LENGTH: usize = 32;
/// Milvus's `proxy.minPasswordLength` default, in bytes.
pub const MIN_PASSWORD_LENGTH: usize = 6;
/// Milvus's `proxy.maxPasswordLength` default (bcrypt's limit), in bytes.
pub const MAX_PASSWORD_LENGTH: usize = 72;
/// Milvus's `proxy.roleNameValidation.allowedChars` default.
const ROLE_EXTRA_CHARS: &str = "$";

/// Names a field may not have: the dynamic field and the filter language's
/// keywords (in exactly these casings, as Milvus lists them).
pub const FIELD_NAME_KEYWORDS: &[&str] = &[
    "$meta",
    "like",
    "exists",
    "EXISTS",
    "and",
    "or",
    "not",
    "in",
    "json_contains",
    "JSON_CONTAINS",
    "json_contains_all",
    "JSON_CONTAINS_ALL",
    "json_contains_any",
    "JSON_CONTAINS_ANY",
    "array_contains",
    "ARRAY_CONTAINS",
    "array_contains_all",
    "ARRAY_CONTAINS_ALL",
    "array_contains_any",
    "ARRAY_CONTAINS_ANY",
    "array_length",
    "ARRAY_LENGTH",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "text_match",
    "TEXT_MATCH",
    "phrase_match",
    "PHRASE_MATCH",
    "random_sample",
    "RANDOM_SAMPLE",
];

/// Milvus `merr` codes a refused name answers with.
pub mod code {
    /// ErrParameterInvalid, and a plain (code-less) Go error: partition,
    /// index and empty resource group names.
    pub use crate::error::merr::{PARAMETER_INVALID, UNEXPECTED};
    /// ErrDatabaseInvalidName.
    pub const DATABASE_NAME_INVALID: i32 = 802;
    /// ErrFieldInvalidName.
    pub const FIELD_NAME_INVALID: i32 = 1701;
}

/// The first byte most kinds of name allow.
fn letter_or_underscore(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn word_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Where a name first breaks its rule, by byte.
enum Bad {
    First(u8),
    Rest(usize, u8),
}

fn check_bytes(name: &str, first: impl Fn(u8) -> bool, rest: impl Fn(u8) -> bool) -> Option<Bad> {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(&b) if !first(b) => return Some(Bad::First(b)),
        None => return None,
        _ => {}
    }
    bytes
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, &b)| !rest(b))
        .map(|(i, &b)| Bad::Rest(i, b))
}

/// Collection names and aliases share one rule; `what` is "name" or "alias".
fn collection_like(name: &str, what: &str) -> Result<()> {
    if name.is_empty() {
        return Err(parameter(format!("collection {what} should not be empty")));
    }
    let head = format!("Invalid collection {what}: {name}.");
    if name.len() > MAX_NAME_LENGTH {
        return Err(parameter(format!(
            "{head} the length of a collection {what} must be less than {MAX_NAME_LENGTH} characters"
        )));
    }
    match check_bytes(name, letter_or_underscore, word_byte) {
        Some(Bad::First(_)) => Err(parameter(format!(
            "{head} the first character of a collection {what} must be an underscore or letter"
        ))),
        Some(Bad::Rest(..)) => Err(parameter(format!(
            "{head} collection {what} can only contain numbers, letters and underscores"
        ))),
        None => Ok(()),
    }
}

/// A collection name (Milvus `validateCollectionName`).
pub fn collection(name: &str) -> Result<()> {
    collection_like(name, "name")
}

/// A collection alias (Milvus `ValidateCollectionAlias`).
pub fn alias(name: &str) -> Result<()> {
    collection_like(name, "alias")
}

/// A partition name, strictly checked as CreatePartition, HasPartition,
/// DropPartition, insert and delete do (Milvus `validatePartitionTag(_, true)`).
pub fn partition(name: &str) -> Result<()> {
    let name = name.trim();
    let unexpected = |msg: &str| {
        refuse(
            code::UNEXPECTED,
            format!("Invalid partition name: {name}. {msg}"),
        )
    };
    if name.is_empty() {
        return Err(unexpected("Partition name should not be empty."));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(unexpected(&format!(
            "The length of a partition name must be less than {MAX_NAME_LENGTH} characters."
        )));
    }
    match check_bytes(name, word_byte, |b| word_byte(b) || b == b'-') {
        Some(Bad::First(_)) => Err(unexpected(
            "The first character of a partition name must be an underscore or letter.",
        )),
        Some(Bad::Rest(..)) => Err(unexpected(
            "Partition name can only contain numbers, letters and underscores.",
        )),
        None => Ok(()),
    }
}

/// A field name in a schema (Milvus `validateFieldName`).
pub fn field(name: &str) -> Result<()> {
    let name = name.trim();
    let refused = |msg: String| {
        refuse(
            code::FIELD_NAME_INVALID,
            format!("{msg}: field name invalid[field={name}]"),
        )
    };
    if name.is_empty() {
        return Err(refused("field name should not be empty".into()));
    }
    let head = format!("Invalid field name: {name}.");
    if name.len() > MAX_NAME_LENGTH {
        return Err(refused(format!(
            "{head} The length of a field name must be less than {MAX_NAME_LENGTH} characters."
        )));
    }
    match check_bytes(name, letter_or_underscore, word_byte) {
        Some(Bad::First(_)) => Err(refused(format!(
            "{head} The first character of a field name must be an underscore or letter."
        ))),
        Some(Bad::Rest(..)) => Err(refused(format!(
            "{head} Field name can only contain numbers, letters, and underscores."
        ))),
        None if FIELD_NAME_KEYWORDS.contains(&name) => {
            Err(refused(format!("{head} {name} is keyword in milvus.")))
        }
        None => Ok(()),
    }
}

/// A database name (Milvus `ValidateDatabaseName`).
pub fn database(name: &str) -> Result<()> {
    let refused = |msg: String| {
        refuse(
            code::DATABASE_NAME_INVALID,
            format!("{msg}: invalid database name[database={name}]"),
        )
    };
    if name.is_empty() {
        return Err(refused("database name couldn't be empty".into()));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(refused(format!(
            "the length of a database name must be less than {MAX_NAME_LENGTH} characters"
        )));
    }
    match check_bytes(name, letter_or_underscore, word_byte) {
        Some(Bad::First(_)) => Err(refused(
            "the first character of a database name must be an underscore or letter".into(),
        )),
        Some(Bad::Rest(..)) => Err(refused(
            "database name can only contain numbers, letters and underscores".into(),
        )),
        None => Ok(()),
    }
}

/// An index name; empty means "let the server choose" (Milvus `validateIndexName`).
pub fn index(name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(());
    }
    let unexpected = |msg: String| {
        refuse(
            code::UNEXPECTED,
            format!("Invalid index name: {name}. {msg}"),
        )
    };
    if name.len() > MAX_NAME_LENGTH {
        return Err(unexpected(format!(
            "The length of a index name must be less than {MAX_NAME_LENGTH} characters."
        )));
    }
    let rest = |b: u8| word_byte(b) || b == b'[' || b == b']';
    match check_bytes(name, letter_or_underscore, rest) {
        Some(Bad::First(_)) => Err(unexpected(
            "The first character of a index name must be an underscore or letter.".into(),
        )),
        Some(Bad::Rest(..)) => Err(unexpected(
            "Index name can only contain numbers, letters, and underscores.".into(),
        )),
        None => Ok(()),
    }
}

/// A user name (Milvus `ValidateUsername`).
pub fn user(name: &str) -> Result<()> {
    let name = name.trim();
    if name.is_empty() {
        return Err(parameter("username must be not empty"));
    }
    if name.len() > MAX_USERNAME_LENGTH {
        return Err(parameter(format!(
            "invalid username {name} with length {}, the length of username must be less than \
             {MAX_USERNAME_LENGTH}",
            name.len()
        )));
    }
    let rest = |b: u8| word_byte(b) || b == b'-' || b == b'.';
    match check_bytes(name, |b| b.is_ascii_alphabetic(), rest) {
        // Milvus prints the byte as a code point (Go's `string(byte)`).
        Some(Bad::First(b)) => Err(parameter(format!(
            "invalid user name {name}, the first character must be a letter, but got {}",
            char::from(b)
        ))),
        // ...and this one with `%s` of a byte, which Go renders as below.
        Some(Bad::Rest(_, b)) => Err(parameter(format!(
            "invalid user name {name}, username must contain only numbers, letters, underscores, \
             dots, and hyphens, but got %!s(uint8={b})"
        ))),
        None => Ok(()),
    }
}

/// A password's length, in bytes (Milvus `ValidatePassword`).
pub fn password(password: &str) -> Result<()> {
    let n = password.len();
    if !(MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&n) {
        return Err(refuse(
            code::PARAMETER_INVALID,
            format!(
                "invalid password length: invalid parameter[{n} out of range \
                 {MIN_PASSWORD_LENGTH} <= value <= {MAX_PASSWORD_LENGTH}]"
            ),
        ));
    }
    Ok(())
}

/// A role name (Milvus `ValidateRoleName`: the generic rule plus `$`).
pub fn role(name: &str) -> Result<()> {
    let name = name.trim();
    let what = "role name";
    if name.is_empty() {
        return Err(refuse(
            code::PARAMETER_INVALID,
            format!(
                "{what} should be not empty: invalid parameter[expected=not empty][actual={name}]"
            ),
        ));
    }
    if name.len() > MAX_NAME_LENGTH {
        return Err(refuse(
            code::PARAMETER_INVALID,
            format!(
                "the length of {what} must be not greater than limit: invalid parameter[{} out of \
                 range 0 <= value <= {MAX_NAME_LENGTH}]",
                name.len()
            ),
        ));
    }
    let rest = |b: u8| word_byte(b) || ROLE_EXTRA_CHARS.as_bytes().contains(&b);
    match check_bytes(name, letter_or_underscore, rest) {
        // Milvus reports the expected and actual first bytes as numbers.
        Some(Bad::First(b)) => Err(refuse(
            code::PARAMETER_INVALID,
            format!(
                "the first character of {what} must be an underscore or letter: invalid \
                 parameter[expected={}][actual={b}]",
                b'_'
            ),
        )),
        Some(Bad::Rest(i, b)) => Err(parameter(format!(
            "{what} can only contain numbers, letters, underscores, and allowed characters \
             ({ROLE_EXTRA_CHARS}), found {} at {i}",
            char::from(b)
        ))),
        None => Ok(()),
    }
}

/// A resource group name (Milvus `ValidateResourceGroupName`).
pub fn resource_group(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(refuse(
            code::UNEXPECTED,
            "resource group name couldn't be empty".into(),
        ));
    }
    let head = format!("Invalid resource group name {name}.");
    if name.len() > MAX_NAME_LENGTH {
        return Err(parameter(format!(
            "{head} the length of a resource group name must be less than {MAX_NAME_LENGTH} \
             characters"
        )));
    }
    match check_bytes(name, letter_or_underscore, word_byte) {
        Some(Bad::First(_)) => Err(parameter(format!(
            "{head} the first character of a resource group name must be an underscore or letter"
        ))),
        Some(Bad::Rest(..)) => Err(parameter(format!(
            "{head} resource group name can only contain numbers, letters and underscores"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
