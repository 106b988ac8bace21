//! Which node a fault hits, found when it fires: the leader of a partition (from fresh topic
//! metadata) or the active KRaft controller.
//!
//! The controller: in KRaft, a broker's Metadata and DescribeCluster responses name a random
//! live broker as "controller" (clients never talk to the quorum), and librdkafka does not
//! expose it anyway. The active controller is the leader of the metadata quorum, which brokers
//! report through DescribeQuorum (API 55, forwarded to the quorum; what
//! `kafka-metadata-quorum.sh describe --status` prints as LeaderId). kbench sends that one
//! request itself over a plain TCP connection, so it works for any cluster with a PLAINTEXT
//! listener (the local one and docker-compose.yml); for the local cluster, Kafka's own tool
//! (`LocalCluster::quorum`, a JVM start) is the fallback.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::cluster::{Access, LocalCluster};

/// Metadata queries against one cluster.
pub struct Resolver {
    bootstrap: String,
    meta: BaseConsumer,
    timeout: Duration,
}

impl Resolver {
    /// `props`: librdkafka properties for the metadata client (security settings); the
    /// scenario's `[client.admin]` is the natural choice.
    pub fn new(access: &Access, props: &BTreeMap<String, String>) -> Result<Resolver, String> {
        let bootstrap = &access.bootstrap;
        let mut c = access.config();
        // A broker that is down is normal here; don't spam stderr about it.
        c.set("log_level", "3");
        Access::apply_extra(&mut c, props);
        Ok(Resolver {
            bootstrap: bootstrap.to_string(),
            meta: c
                .create()
                .map_err(|e| format!("metadata client for {bootstrap}: {e}"))?,
            timeout: Duration::from_secs(5),
        })
    }

    /// The node id leading `partition` of `topic` now (fresh metadata, not a cache).
    pub fn leader_of(&self, topic: &str, partition: i32) -> Result<i32, String> {
        let md = self
            .meta
            .fetch_metadata(Some(topic), self.timeout)
            .map_err(|e| format!("metadata for {topic}: {e}"))?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| format!("topic {topic} is not in the cluster's metadata"))?;
        if let Some(e) = t.error() {
            return Err(format!("metadata for {topic}: {e:?}"));
        }
        let p = t
            .partitions()
            .iter()
            .find(|p| p.id() == partition)
            .ok_or_else(|| {
                format!(
                    "topic {topic} has no partition {partition} ({} partitions)",
                    t.partitions().len()
                )
            })?;
        match p.leader() {
            l if l >= 0 => Ok(l),
            _ => Err(format!(
                "partition {partition} of {topic} has no leader now"
            )),
        }
    }

    /// Node ids of the brokers the cluster lists now (registered and unfenced).
    pub fn broker_ids(&self) -> Result<Vec<i32>, String> {
        let md = self
            .meta
            .fetch_metadata(None, self.timeout)
            .map_err(|e| format!("metadata from {}: {e}", self.bootstrap))?;
        Ok(md.brokers().iter().map(|b| b.id()).collect())
    }

    /// The active controller: DescribeQuorum to each bootstrap server in turn, then (for a
    /// local cluster) Kafka's own quorum tool.
    pub fn controller(&self, local: Option<&LocalCluster>) -> Result<i32, String> {
        let mut errors = Vec::new();
        for addr in self
            .bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match quorum_leader(addr, self.timeout) {
                Ok(id) => return Ok(id),
                Err(e) => errors.push(format!("{addr}: {e}")),
            }
        }
        if let Some(cluster) = local {
            match cluster.quorum() {
                Ok(text) => match parse_quorum_leader(&text) {
                    Some(id) => return Ok(id),
                    None => errors.push("kafka-metadata-quorum: no LeaderId".to_string()),
                },
                Err(e) => errors.push(format!("kafka-metadata-quorum: {e}")),
            }
        }
        Err(format!(
            "cannot find the active controller: {}",
            errors.join("; ")
        ))
    }
}

/// `LeaderId: 2` in `kafka-metadata-quorum describe --status` output.
pub fn parse_quorum_leader(text: &str) -> Option<i32> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("LeaderId:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|id: &i32| *id >= 0)
}

const DESCRIBE_QUORUM: i16 = 55;
const METADATA_TOPIC: &str = "__cluster_metadata";

/// DescribeQuorum v0 (flexible) for `__cluster_metadata` partition 0: request header v2.
pub(crate) fn describe_quorum_request(correlation_id: i32) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend(DESCRIBE_QUORUM.to_be_bytes());
    b.extend(0i16.to_be_bytes()); // version 0
    b.extend(correlation_id.to_be_bytes());
    let client_id = b"kbench";
    b.extend((client_id.len() as i16).to_be_bytes()); // client id: old-style string
    b.extend(client_id);
    b.push(0); // header tagged fields
    b.push(2); // topics: compact array of 1
    b.push(METADATA_TOPIC.len() as u8 + 1); // compact string
    b.extend(METADATA_TOPIC.as_bytes());
    b.push(2); // partitions: compact array of 1
    b.extend(0i32.to_be_bytes()); // partition index
    b.push(0); // partition tagged fields
    b.push(0); // topic tagged fields
    b.push(0); // request tagged fields
    let mut framed = (b.len() as i32).to_be_bytes().to_vec();
    framed.extend(b);
    framed
}

/// The LeaderId from a DescribeQuorum v0 response body (after the 4-byte size).
pub(crate) fn parse_describe_quorum(body: &[u8], correlation_id: i32) -> Result<i32, String> {
    let mut r = Reader { b: body, at: 0 };
    if r.i32()? != correlation_id {
        return Err("response to another request".into());
    }
    r.skip_tags()?;
    let code = r.i16()?;
    if code != 0 {
        return Err(format!("error code {code}"));
    }
    if r.uvarint()? < 2 {
        return Err("no topic in the response".into());
    }
    let name_len = r.uvarint()?.saturating_sub(1) as usize;
    r.take(name_len)?;
    if r.uvarint()? < 2 {
        return Err("no partition in the response".into());
    }
    let _partition = r.i32()?;
    let code = r.i16()?;
    if code != 0 {
        return Err(format!("partition error code {code}"));
    }
    match r.i32()? {
        id if id >= 0 => Ok(id),
        _ => Err("the quorum has no leader now".into()),
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or("truncated response")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16, String> {
        let s = self.take(2)?;
        Ok(i16::from_be_bytes([s[0], s[1]]))
    }
    fn i32(&mut self) -> Result<i32, String> {
        let s = self.take(4)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn uvarint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("bad varint".into())
    }
    fn skip_tags(&mut self) -> Result<(), String> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let size = self.uvarint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }
}

/// Asks one broker (`host:port`) who leads the metadata quorum.
pub fn quorum_leader(addr: &str, timeout: Duration) -> Result<i32, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let correlation_id = 0x6b62; // "kb"
    s.write_all(&describe_quorum_request(correlation_id))
        .map_err(|e| e.to_string())?;
    let mut size = [0u8; 4];
    s.read_exact(&mut size).map_err(|e| e.to_string())?;
    let size = i32::from_be_bytes(size);
    if !(0..=1 << 20).contains(&size) {
        return Err(format!("implausible response size {size}"));
    }
    let mut body = vec![0u8; size as usize];
    s.read_exact(&mut body).map_err(|e| e.to_string())?;
    parse_describe_quorum(&body, correlation_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        let r = describe_quorum_request(7);
        let size = i32::from_be_bytes([r[0], r[1], r[2], r[3]]) as usize;
        assert_eq!(size, r.len() - 4);
        assert_eq!(&r[4..8], &[0, 55, 0, 0]); // api key 55, version 0
        assert_eq!(&r[8..12], &7i32.to_be_bytes());
        assert_eq!(&r[12..20], b"\x00\x06kbench");
        assert!(r.ends_with(&[2, 0, 0, 0, 0, 0, 0, 0]));
    }

    /// A v0 response: header (correlation id, no tags), error 0, one topic with one partition
    /// led by `leader`, one voter, no observers.
    fn response(correlation: i32, error: i16, leader: i32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(correlation.to_be_bytes());
        b.push(0);
        b.extend(error.to_be_bytes());
        b.push(2);
        b.push(METADATA_TOPIC.len() as u8 + 1);
        b.extend(METADATA_TOPIC.as_bytes());
        b.push(2);
        b.extend(0i32.to_be_bytes());
        b.extend(0i16.to_be_bytes());
        b.extend(leader.to_be_bytes());
        b.extend(5i32.to_be_bytes()); // epoch
        b.extend(100i64.to_be_bytes()); // high watermark
        b.push(2); // one voter
        b.extend(leader.to_be_bytes());
        b.extend(100i64.to_be_bytes());
        b.push(0);
        b.push(1); // no observers
        b.push(0);
        b.push(0);
        b.push(0);
        b
    }

    #[test]
    fn response_parsing() {
        assert_eq!(parse_describe_quorum(&response(7, 0, 2), 7), Ok(2));
        assert!(parse_describe_quorum(&response(8, 0, 2), 7).is_err());
        assert_eq!(
            parse_describe_quorum(&response(7, 35, 2), 7),
            Err("error code 35".to_string())
        );
        assert!(parse_describe_quorum(&response(7, 0, -1), 7).is_err());
        let full = response(7, 0, 3);
        for cut in 0..20 {
            assert!(parse_describe_quorum(&full[..cut], 7).is_err(), "cut {cut}");
        }
        // Tagged fields in the header are skipped.
        let mut tagged = response(7, 0, 1);
        tagged.splice(4..5, [1u8, 9, 2, 0xaa, 0xbb]);
        assert_eq!(parse_describe_quorum(&tagged, 7), Ok(1));
    }

    #[test]
    fn quorum_tool_output() {
        let text =
            "ClusterId:              abc\nLeaderId:               3\nLeaderEpoch:            1\n";
        assert_eq!(parse_quorum_leader(text), Some(3));
        assert_eq!(parse_quorum_leader("LeaderId: -1\n"), None);
        assert_eq!(parse_quorum_leader("nothing"), None);
    }

    #[test]
    fn nobody_listening_is_an_error() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = free.local_addr().expect("addr").to_string();
        drop(free);
        assert!(quorum_leader(&addr, Duration::from_secs(1)).is_err());
    }
}
