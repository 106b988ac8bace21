//! What a cluster says about itself, for the manifest: its brokers and their racks, the
//! controller its metadata names, the broker settings that decide topic auto-creation, and a
//! lower bound on its Kafka version. Gathered by [`super::admin::Admin::describe_cluster`];
//! this file is the data and the pure parts (reading config entries and ApiVersions lines,
//! the version table, the auto-creation warning).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The cluster's own answers. Every field has a default (older manifests have none of it);
/// `None` where the cluster did not answer (e.g. DescribeConfigs refused by an ACL).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterFacts {
    /// A lower bound, not the exact release: no Kafka request returns the broker's software
    /// version, so it is the newest release in kbench's table ([`VERSION_MARKERS`]) whose
    /// protocol versions every broker that answered supports ("3.8", "4.0"). A newer broker
    /// still reads as the newest release in the table.
    pub kafka_version_at_least: Option<String>,
    /// The ApiVersions evidence behind [`Self::kafka_version_at_least`], e.g.
    /// "broker 127.0.0.1:9092/1: Fetch v4..18 (min v4: protocol baseline of 4.0)".
    pub kafka_version_basis: String,
    /// The controller id the cluster's metadata reports (`rd_kafka_controllerid`). On a
    /// ZooKeeper cluster that is the active controller. A KRaft cluster answers with a live
    /// broker of its choosing (clients cannot reach the quorum; brokers forward controller
    /// requests), so there it is not necessarily the quorum leader.
    pub metadata_controller_id: Option<i32>,
    /// Every broker the metadata lists, by id.
    pub brokers: Vec<BrokerFacts>,
    /// What could not be read, and why (the rest of the facts are still recorded).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// One broker, from the metadata and its own DescribeConfigs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerFacts {
    pub id: i32,
    /// `host:port` as the metadata advertises it.
    pub address: String,
    /// `broker.rack`; `None` when unset.
    pub rack: Option<String>,
    /// `auto.create.topics.enable`: a produce or metadata request for a topic that does not
    /// exist creates it, with the two settings below.
    pub auto_create_topics_enable: Option<bool>,
    pub num_partitions: Option<i32>,
    pub default_replication_factor: Option<i32>,
}

impl BrokerFacts {
    /// Fill the config-derived fields from a broker's DescribeConfigs entries (name, value).
    pub fn apply_configs<'a>(
        &mut self,
        entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) {
        for (name, value) in entries {
            let value = value.map(str::trim).filter(|v| !v.is_empty());
            match name {
                "broker.rack" => self.rack = value.map(str::to_string),
                "auto.create.topics.enable" => {
                    self.auto_create_topics_enable = value.and_then(|v| v.parse().ok())
                }
                "num.partitions" => self.num_partitions = value.and_then(|v| v.parse().ok()),
                "default.replication.factor" => {
                    self.default_replication_factor = value.and_then(|v| v.parse().ok())
                }
                _ => {}
            }
        }
    }
}

/// The broker configs [`BrokerFacts`] reads.
pub const BROKER_CONFIGS: [&str; 4] = [
    "broker.rack",
    "auto.create.topics.enable",
    "num.partitions",
    "default.replication.factor",
];

impl ClusterFacts {
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().map(|b| b.id).collect()
    }

    /// Whether the cluster auto-creates topics: `Some(false)` when some broker says it does not
    /// (a write may reach any of them), `Some(true)` when every broker says it does, `None`
    /// when not every broker answered.
    pub fn auto_create_enabled(&self) -> Option<bool> {
        let said: Vec<Option<bool>> = self
            .brokers
            .iter()
            .map(|b| b.auto_create_topics_enable)
            .collect();
        if said.contains(&Some(false)) {
            Some(false)
        } else if !said.is_empty() && said.iter().all(|s| *s == Some(true)) {
            Some(true)
        } else {
            None
        }
    }

    /// The partition count an auto-created topic gets: every broker's `num.partitions`, when
    /// they agree (the controller applies the receiving broker's default).
    pub fn auto_create_partitions(&self) -> Option<i32> {
        let first = self.brokers.first()?.num_partitions?;
        self.brokers
            .iter()
            .all(|b| b.num_partitions == Some(first))
            .then_some(first)
    }

    /// One line when some broker would create a topic that is written to before it exists:
    /// with which shape, and that kbench creates its own. `None` when no broker says so.
    pub fn auto_create_warning(&self) -> Option<String> {
        let on: Vec<&BrokerFacts> = self
            .brokers
            .iter()
            .filter(|b| b.auto_create_topics_enable == Some(true))
            .collect();
        if on.is_empty() {
            return None;
        }
        let shape = |b: &BrokerFacts| {
            let n = |v: Option<i32>| v.map_or("?".to_string(), |v| v.to_string());
            format!(
                "num.partitions {} x default.replication.factor {}",
                n(b.num_partitions),
                n(b.default_replication_factor)
            )
        };
        let mut shapes: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for b in &on {
            shapes.entry(shape(b)).or_default().push(b.id);
        }
        let which = if on.len() == self.brokers.len() {
            "this cluster".to_string()
        } else {
            let ids: Vec<String> = on.iter().map(|b| b.id.to_string()).collect();
            format!("brokers {}", ids.join(", "))
        };
        let with = if shapes.len() == 1 {
            shapes.into_keys().next().unwrap_or_default()
        } else {
            let parts: Vec<String> = shapes
                .into_iter()
                .map(|(s, ids)| {
                    let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
                    format!("{s} on {}", ids.join(", "))
                })
                .collect();
            parts.join("; ")
        };
        Some(format!(
            "warning: auto.create.topics.enable is true on {which}: a topic written to before it exists would be created with {with} (kbench creates its own topics explicitly)"
        ))
    }
}

/// One API's supported versions as a broker's ApiVersions response gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    pub key: i16,
    pub min: i16,
    pub max: i16,
}

/// Read librdkafka's `debug=feature` log lines ("<broker>:   ApiKey Produce (0) Versions
/// 0..13"), one list per broker name. Lines that are not such are ignored.
pub fn parse_api_versions<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Vec<ApiRange>> {
    let mut out: BTreeMap<String, Vec<ApiRange>> = BTreeMap::new();
    for line in lines {
        let Some((head, rest)) = line.split_once("ApiKey ") else {
            continue;
        };
        // "[thrd:...]: 127.0.0.1:9092/1:   " -> "127.0.0.1:9092/1"
        let broker = head
            .trim_end()
            .trim_end_matches(':')
            .rsplit(": ")
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let parse = || -> Option<ApiRange> {
            let open = rest.rfind('(')?;
            let close = rest[open..].find(')')? + open;
            let key = rest[open + 1..close].trim().parse().ok()?;
            let versions = rest[close..].split("Versions ").nth(1)?;
            let (min, max) = versions.trim().split_once("..")?;
            Some(ApiRange {
                key,
                min: min.trim().parse().ok()?,
                max: max.trim().parse().ok()?,
            })
        };
        if let Some(r) = parse() {
            let v = out.entry(broker).or_default();
            if !v.iter().any(|x| x.key == r.key) {
                v.push(r);
            }
        }
    }
    out
}

/// A release and what only brokers of that release or later answer in ApiVersions: (api
/// key, its name, lowest max version) or, for 4.0's removal of old protocol versions, a
/// minimum version. Read from Apache Kafka's message specs
/// (`clients/src/main/resources/common/message/*Request.json`) at each release tag, stable
/// versions only. Only client-facing APIs, which every broker listener answers.
pub struct Marker {
    pub release: &'static str,
    pub api: (i16, &'static str),
    pub check: Check,
}

#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// The broker's max version is at least this.
    MaxAtLeast(i16),
    /// The broker's min version is at least this (old versions removed).
    MinAtLeast(i16),
}

/// Oldest first. 3.4 and 3.3 answer the same client-facing versions, so 3.4 has no marker.
pub const VERSION_MARKERS: &[Marker] = &[
    Marker {
        release: "3.1",
        api: (1, "Fetch"),
        check: Check::MaxAtLeast(13),
    },
    Marker {
        release: "3.2",
        api: (11, "JoinGroup"),
        check: Check::MaxAtLeast(9),
    },
    Marker {
        release: "3.3",
        api: (29, "DescribeAcls"),
        check: Check::MaxAtLeast(3),
    },
    Marker {
        release: "3.5",
        api: (1, "Fetch"),
        check: Check::MaxAtLeast(15),
    },
    Marker {
        release: "3.6",
        api: (24, "AddPartitionsToTxn"),
        check: Check::MaxAtLeast(4),
    },
    Marker {
        release: "3.7",
        api: (0, "Produce"),
        check: Check::MaxAtLeast(10),
    },
    Marker {
        release: "3.8",
        api: (0, "Produce"),
        check: Check::MaxAtLeast(11),
    },
    Marker {
        release: "4.0",
        api: (1, "Fetch"),
        check: Check::MinAtLeast(4),
    },
];

/// The newest release every marker up to which `apis` meets, with the evidence: the marker
/// met last and the first one missed. `None` when not even the oldest marker is met (a
/// broker older than 3.1, or no ApiVersions seen).
pub fn version_at_least(apis: &[ApiRange]) -> (Option<&'static str>, String) {
    let get = |k: i16| apis.iter().find(|a| a.key == k);
    let meets = |m: &Marker| match (get(m.api.0), m.check) {
        (Some(a), Check::MaxAtLeast(v)) => a.max >= v,
        (Some(a), Check::MinAtLeast(v)) => a.min >= v,
        (None, _) => false,
    };
    let seen = |m: &Marker| match get(m.api.0) {
        Some(a) => format!("{} v{}..{}", m.api.1, a.min, a.max),
        None => format!("no {}", m.api.1),
    };
    let want = |m: &Marker| match m.check {
        Check::MaxAtLeast(v) => format!("v{v} is {}", m.release),
        Check::MinAtLeast(v) => format!("min v{v} is {}'s protocol baseline", m.release),
    };
    let mut found = None;
    let mut basis = Vec::new();
    for m in VERSION_MARKERS {
        if meets(m) {
            found = Some(m);
        } else {
            if let Some(f) = found {
                basis.push(format!("{} ({})", seen(f), want(f)));
            }
            basis.push(format!("{} (below {})", seen(m), m.release));
            return (found.map(|f| f.release), basis.join("; "));
        }
    }
    if let Some(f) = found {
        basis.push(format!(
            "{} ({}; newest in kbench's table)",
            seen(f),
            want(f)
        ));
    }
    (found.map(|f| f.release), basis.join("; "))
}

/// Over several brokers (a cluster mid-upgrade): the lowest bound, naming its broker.
pub fn cluster_version_at_least(
    per_broker: &BTreeMap<String, Vec<ApiRange>>,
) -> (Option<String>, String) {
    let rank = |r: Option<&str>| {
        r.and_then(|r| VERSION_MARKERS.iter().position(|m| m.release == r))
            .map_or(-1, |p| p as i64)
    };
    let mut lowest: Option<(i64, Option<&str>, String)> = None;
    for (broker, apis) in per_broker {
        let (r, basis) = version_at_least(apis);
        let k = rank(r);
        if lowest.as_ref().is_none_or(|(lk, _, _)| k < *lk) {
            lowest = Some((k, r, format!("broker {broker}: {basis}")));
        }
    }
    match lowest {
        Some((_, r, basis)) => (r.map(str::to_string), basis),
        None => (None, "no ApiVersions response seen".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &[&str] = &[
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap: Broker API support:",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey Produce (0) Versions 0..13",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey Fetch (1) Versions 4..18",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey JoinGroup (11) Versions 0..9",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey DescribeAcls (29) Versions 1..3",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey AddPartitionsToTxn (24) Versions 0..5",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:   ApiKey Unknown-74? (74) Versions 0..1",
        "[thrd:127.0.0.1:19192/bootstrap]: 127.0.0.1:19192/bootstrap:  Feature MsgVer2: Produce (3..32767) supported by broker",
    ];

    #[test]
    fn api_versions_lines_are_read_per_broker() {
        let m = parse_api_versions(LOG.iter().copied());
        let apis = &m["127.0.0.1:19192/bootstrap"];
        assert_eq!(apis.len(), 6);
        assert_eq!(
            apis[1],
            ApiRange {
                key: 1,
                min: 4,
                max: 18
            }
        );
        assert_eq!(apis[5].key, 74);
    }

    #[test]
    fn the_version_is_the_newest_release_whose_markers_hold() {
        let m = parse_api_versions(LOG.iter().copied());
        let (v, basis) = version_at_least(&m["127.0.0.1:19192/bootstrap"]);
        assert_eq!(v, Some("4.0"));
        assert!(basis.contains("Fetch v4..18"), "{basis}");
        // Kafka 3.7.0's stable versions: Produce 9 -> 10, Fetch 16, no 3.8 Produce v11.
        let r = |key, min, max| ApiRange { key, min, max };
        let v37 = [
            r(0, 0, 10),
            r(1, 0, 16),
            r(11, 0, 9),
            r(29, 0, 3),
            r(24, 0, 4),
        ];
        let (v, basis) = version_at_least(&v37);
        assert_eq!(v, Some("3.7"));
        assert!(basis.contains("Produce v0..10 (below 3.8)"), "{basis}");
        assert_eq!(version_at_least(&[r(1, 0, 12)]).0, None);
        // Mid-upgrade: the oldest broker sets the bound.
        let mut per = BTreeMap::new();
        per.insert("a/1".to_string(), m["127.0.0.1:19192/bootstrap"].clone());
        per.insert("b/2".to_string(), v37.to_vec());
        let (v, basis) = cluster_version_at_least(&per);
        assert_eq!(v.as_deref(), Some("3.7"));
        assert!(basis.starts_with("broker b/2: "), "{basis}");
    }

    fn broker(id: i32, on: bool, parts: i32) -> BrokerFacts {
        let mut b = BrokerFacts {
            id,
            ..BrokerFacts::default()
        };
        let on = on.to_string();
        let parts = parts.to_string();
        b.apply_configs([
            ("broker.rack", None),
            ("auto.create.topics.enable", Some(on.as_str())),
            ("num.partitions", Some(parts.as_str())),
            ("default.replication.factor", Some("3")),
            ("log.dirs", Some("/tmp")),
        ]);
        b
    }

    #[test]
    fn auto_creation_is_on_only_when_every_broker_says_so() {
        let broker = |id, on: Option<bool>, n: Option<i32>| BrokerFacts {
            id,
            auto_create_topics_enable: on,
            num_partitions: n,
            ..BrokerFacts::default()
        };
        let facts = |b: Vec<BrokerFacts>| ClusterFacts {
            brokers: b,
            ..ClusterFacts::default()
        };
        let on = facts(vec![
            broker(1, Some(true), Some(1)),
            broker(2, Some(true), Some(1)),
        ]);
        assert_eq!(on.auto_create_enabled(), Some(true));
        assert_eq!(on.auto_create_partitions(), Some(1));
        let one_off = facts(vec![
            broker(1, Some(true), Some(1)),
            broker(2, Some(false), Some(3)),
        ]);
        assert_eq!(one_off.auto_create_enabled(), Some(false));
        assert_eq!(one_off.auto_create_partitions(), None);
        let unknown = facts(vec![broker(1, Some(true), None), broker(2, None, None)]);
        assert_eq!(unknown.auto_create_enabled(), None);
        assert_eq!(unknown.auto_create_partitions(), None);
        assert_eq!(facts(vec![]).auto_create_enabled(), None);
    }

    #[test]
    fn configs_fill_the_broker_and_auto_creation_warns_once() {
        let b = broker(1, true, 1);
        assert_eq!(b.rack, None);
        assert_eq!(b.auto_create_topics_enable, Some(true));
        assert_eq!(
            (b.num_partitions, b.default_replication_factor),
            (Some(1), Some(3))
        );
        let mut rack = BrokerFacts::default();
        rack.apply_configs([("broker.rack", Some("eu-1a"))]);
        assert_eq!(rack.rack.as_deref(), Some("eu-1a"));

        let off = ClusterFacts {
            brokers: vec![broker(1, false, 1), broker(2, false, 1)],
            ..ClusterFacts::default()
        };
        assert_eq!(off.auto_create_warning(), None);
        let on = ClusterFacts {
            brokers: vec![broker(1, true, 1), broker(2, true, 1)],
            ..ClusterFacts::default()
        };
        assert_eq!(
            on.auto_create_warning().unwrap(),
            "warning: auto.create.topics.enable is true on this cluster: a topic written to before it exists would be created with num.partitions 1 x default.replication.factor 3 (kbench creates its own topics explicitly)"
        );
        let mixed = ClusterFacts {
            brokers: vec![broker(1, true, 1), broker(2, false, 1), broker(3, true, 6)],
            ..ClusterFacts::default()
        };
        let w = mixed.auto_create_warning().unwrap();
        assert!(w.contains("on brokers 1, 3: "), "{w}");
        assert!(w.contains("num.partitions 1 x default.replication.factor 3 on 1; num.partitions 6 x default.replication.factor 3 on 3"), "{w}");
    }
}
