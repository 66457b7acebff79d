//! The connections of `--jobs memory`: kept in this process, lost on restart, like its jobs.
//! One process, so the per-connection single flight of `Connections` is the whole lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::rows::{FlowRow, StoredRow};
use crate::error::StoreError;

#[derive(Clone, Default)]
pub(crate) struct MemoryRows {
    inner: Arc<Mutex<Tables>>,
}

#[derive(Default)]
struct Tables {
    connections: BTreeMap<String, StoredRow>,
    flows: HashMap<String, FlowRow>,
}

impl MemoryRows {
    pub(crate) async fn get(&self, name: &str) -> Result<Option<StoredRow>, StoreError> {
        Ok(self.inner.lock().await.connections.get(name).cloned())
    }

    pub(crate) async fn list(&self) -> Result<Vec<StoredRow>, StoreError> {
        Ok(self
            .inner
            .lock()
            .await
            .connections
            .values()
            .cloned()
            .collect())
    }

    pub(crate) async fn put(&self, row: StoredRow) {
        self.inner
            .lock()
            .await
            .connections
            .insert(row.name.clone(), row);
    }

    pub(crate) async fn put_flow(
        &self,
        flow: FlowRow,
        expired_before: i64,
    ) -> Result<(), StoreError> {
        let mut tables = self.inner.lock().await;
        tables
            .flows
            .retain(|_, flow| flow.expires_at >= expired_before);
        tables.flows.insert(flow.state_hash.clone(), flow);
        Ok(())
    }

    pub(crate) async fn take_flow(&self, state_hash: &str) -> Result<Option<FlowRow>, StoreError> {
        Ok(self.inner.lock().await.flows.remove(state_hash))
    }
}
