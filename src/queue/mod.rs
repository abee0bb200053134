//! RabbitMQ: the queue topology, declared in one place, and confirmed
//! publishing.

mod brokers;
mod convert;
mod publish;
mod topology;

pub use brokers::{Brokers, ConnectError};
pub use convert::{ConvertError, ConvertReport, convert};
pub use publish::{ConfirmedChannel, Outgoing, SendError};
pub use topology::{QueueType, Topology};

/// The request id travels in this message header (the same name as the
/// HTTP header), so one job's logs join up across processes.
pub use crate::telemetry::REQUEST_ID_HEADER;
/// AMQP header carrying the job id.
pub const JOB_ID_HEADER: &str = "x-job-id";
/// AMQP header carrying the reason a message was dead-lettered.
pub const FAILURE_REASON_HEADER: &str = "x-failure-reason";

/// A string header of a delivery, if present.
pub fn header(properties: &lapin::BasicProperties, name: &str) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => {
            Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        lapin::types::AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}
