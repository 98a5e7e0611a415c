//! mqtt-replay core: session reading and replay, with no Python in sight.
//!
//! The binding crate (`rust/py`) turns these types into the private module `mqtt_replay._core`.

pub mod agg;
pub mod error;
pub mod matching;
pub mod ndjson;
pub mod scan;
pub mod search;
pub mod session;
pub mod table;
pub mod time;
pub mod transport;

pub use error::{Error, Result};
pub use ndjson::{Mode, Skipped};
pub use session::{fetch_payloads, open, Container, Options, Session};
pub mod mqtt;
pub mod recorder;
pub mod replay;
