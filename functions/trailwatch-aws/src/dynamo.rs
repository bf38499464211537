//! The state store on DynamoDB, for Lambda: conditional writes make put-if-absent and
//! counters atomic across concurrent invocations, and the `exp` attribute is the table's
//! TTL attribute, so DynamoDB deletes what has expired.
//!
//! Table: partition key `pk` (S); attributes `v` (B, the value), `n` (N, counters),
//! `exp` (N, epoch seconds of event time). The engine's store trait is synchronous (the
//! engine runs in `spawn_blocking`), so each call blocks on the runtime it was made on.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tokio::runtime::Handle;

use trailwatch::state::{StateError, StateStore};

use crate::services::error_chain;

/// How often a counter reset may lose a race before giving up.
const RESET_ATTEMPTS: usize = 5;

/// The DynamoDB state store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    handle: Handle,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl DynamoStore {
    /// A store on `table`. Must be created inside a Tokio runtime, which later calls
    /// (from blocking threads) use.
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            handle: Handle::current(),
        }
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        // Called from spawn_blocking threads, never from an async task.
        self.handle.block_on(future)
    }
}

impl StateStore for DynamoStore {
    fn get(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StateError> {
        let out = self
            .block_on(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .consistent_read(true)
                    .send(),
            )
            .map_err(|e| StateError::backend("get", error_chain(&e)))?;
        let Some(item) = out.item else { return Ok(None) };
        let exp = item
            .get("exp")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if exp.is_none_or(|exp| exp <= now) {
            return Ok(None);
        }
        Ok(item
            .get("v")
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec()))
    }

    fn put(&self, key: &str, value: &[u8], expires: i64) -> Result<(), StateError> {
        self.block_on(
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(key))
                .item("v", AttributeValue::B(value.to_vec().into()))
                .item("exp", n(expires))
                .send(),
        )
        .map(drop)
        .map_err(|e| StateError::backend("put", error_chain(&e)))
    }

    fn put_if_absent(&self, key: &str, value: &[u8], now: i64, expires: i64) -> Result<bool, StateError> {
        let result = self.block_on(
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(key))
                .item("v", AttributeValue::B(value.to_vec().into()))
                .item("exp", n(expires))
                .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
                .expression_attribute_names("#exp", "exp")
                .expression_attribute_values(":now", n(now))
                .send(),
        );
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(StateError::backend("put_if_absent", error_chain(&e))),
        }
    }

    fn increment(&self, key: &str, by: u64, now: i64, expires: i64) -> Result<u64, StateError> {
        for _ in 0..RESET_ATTEMPTS {
            // A live (or new) counter: add atomically, keeping its first expiry.
            let updated = self.block_on(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .update_expression("ADD #n :by SET #exp = if_not_exists(#exp, :exp)")
                    .condition_expression("attribute_not_exists(pk) OR #exp > :now")
                    .expression_attribute_names("#n", "n")
                    .expression_attribute_names("#exp", "exp")
                    .expression_attribute_values(":by", n(by))
                    .expression_attribute_values(":exp", n(expires))
                    .expression_attribute_values(":now", n(now))
                    .return_values(ReturnValue::AllNew)
                    .send(),
            );
            match updated {
                Ok(out) => {
                    let total = out
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get("n"))
                        .and_then(|v| v.as_n().ok());
                    return total
                        .and_then(|t| t.parse::<u64>().ok())
                        .ok_or_else(|| StateError::backend("increment", "no counter value returned"));
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(StateError::backend("increment", error_chain(&e))),
            }
            // Expired: restart it, unless another caller just did (then add to theirs).
            let reset = self.block_on(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s(key))
                    .item("n", n(by))
                    .item("exp", n(expires))
                    .condition_expression("#exp <= :now")
                    .expression_attribute_names("#exp", "exp")
                    .expression_attribute_values(":now", n(now))
                    .send(),
            );
            match reset {
                Ok(_) => return Ok(by),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(StateError::backend("increment", error_chain(&e))),
            }
        }
        Err(StateError::backend(
            "increment",
            "counter kept changing under concurrent resets",
        ))
    }
}
