//! `ping` on MongoDB: `buildInfo`, which tells the version in one round trip.

use std::future::IntoFuture;

use mongodb::bson::doc;

use super::MongoStore;
use crate::store::StoreError;

impl MongoStore {
    /// The `version` of `buildInfo`, run on the `admin` database.
    pub(super) async fn server_version(&self) -> Result<Option<String>, StoreError> {
        let admin = self.inner.client.database("admin");
        let command = admin.run_command(doc! { "buildInfo": 1 }).into_future();
        let reply = self.run("ping", command).await?;
        Ok(reply.get_str("version").ok().map(str::to_owned))
    }
}
