//! Checks at the door: a reading is queued only when its device signature verifies and its key
//! is its machine's current device key, so nobody can make the gateway pay fees to submit
//! readings the chain refuses as unauthenticated.
//!
//! Signatures are checked in one ed25519 batch per request (spread over the cores). Machines'
//! device keys come from the node (`GET /v1/machine/{id}`) and are remembered for a while; a
//! reading signed by another key than the one remembered makes the gateway ask again, so a
//! rotated key is followed at once.

use crate::{Gateway, ReadingOutcome};
use machina_client::NodeError;
use machina_oracle::{OracleError, SignedReading};
use machina_primitives::crypto::{verify_many, SigCheck};
use machina_primitives::PublicKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most machines whose device key the gateway remembers: a large fleet behind one gateway, in
/// a few MB. The longest remembered are forgotten first.
pub const MAX_CACHED_MACHINES: usize = 100_000;

/// How long a machine's device key, or its revocation, is taken as the node said without
/// asking again. A reading signed by another key asks at once, so this only bounds how long
/// readings still signed by a key rotated away are queued (the chain then refuses them).
pub const DEVICE_KEY_TTL: Duration = Duration::from_secs(60);

/// How long "no such machine" is remembered: short, so that a machine registered just now is
/// soon known, long enough that a device posting for a machine that does not exist costs the
/// node one lookup per few seconds.
pub const UNKNOWN_MACHINE_TTL: Duration = Duration::from_secs(5);

/// Most machines one request makes the gateway look up at the node. Readings of further
/// machines that need a lookup fail with `too_many_machines` and are not queued: a request
/// cannot make the gateway send the node more lookups than this.
pub const MAX_LOOKUPS_PER_REQUEST: usize = 1_024;

/// What the node said of a machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// Active, with this device key.
    Active(PublicKey),
    /// Revoked for good.
    Revoked,
    /// No such machine.
    Unknown,
}

struct Cached {
    known: Known,
    fetched: Instant,
    /// Its position in the order of fetching, for forgetting the longest remembered first.
    stamp: u64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<u64, Cached>,
    /// Machine ids by the stamp of their entry, oldest first.
    order: BTreeMap<u64, u64>,
    next_stamp: u64,
}

/// Machines' device keys as the node last told them, at most [`MAX_CACHED_MACHINES`].
#[derive(Default)]
pub(crate) struct DeviceKeys(Mutex<Cache>);

impl DeviceKeys {
    /// What is remembered of machine `id`, unless it is older than its time to live.
    fn get(&self, id: u64, now: Instant) -> Option<Known> {
        let c = self.0.lock().expect("device keys lock");
        let e = c.entries.get(&id)?;
        let ttl = match e.known {
            Known::Unknown => UNKNOWN_MACHINE_TTL,
            Known::Active(_) | Known::Revoked => DEVICE_KEY_TTL,
        };
        (now.saturating_duration_since(e.fetched) < ttl).then_some(e.known)
    }

    fn put(&self, id: u64, known: Known, now: Instant) {
        let mut c = self.0.lock().expect("device keys lock");
        let stamp = c.next_stamp;
        c.next_stamp += 1;
        let entry = Cached {
            known,
            fetched: now,
            stamp,
        };
        if let Some(old) = c.entries.insert(id, entry) {
            c.order.remove(&old.stamp);
        }
        c.order.insert(stamp, id);
        while c.entries.len() > MAX_CACHED_MACHINES {
            let Some((_, oldest)) = c.order.pop_first() else {
                break;
            };
            c.entries.remove(&oldest);
        }
    }

    /// How many machines are remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.0.lock().expect("device keys lock").entries.len()
    }
}

impl Gateway {
    /// For each reading, why it must not be queued (`None`: it may). Blocking: it verifies
    /// signatures and may ask the node, so the routes call it off the async runtime.
    pub(crate) fn check_readings(&self, readings: &[SignedReading]) -> Vec<Option<ReadingOutcome>> {
        let chain_id = match self.chain_id() {
            Ok(id) => id,
            Err(e) => {
                let why = format!("cannot learn the node's chain id: {e:#}");
                return readings
                    .iter()
                    .map(|r| {
                        Some(ReadingOutcome::not_queued(
                            r,
                            "node_unreachable",
                            why.clone(),
                        ))
                    })
                    .collect();
            }
        };
        let messages: Vec<Vec<u8>> = readings
            .iter()
            .map(|r| r.reading.signing_message(chain_id))
            .collect();
        let checks: Vec<SigCheck<'_>> = readings
            .iter()
            .zip(&messages)
            .map(|(r, msg)| SigCheck {
                msg,
                key: &r.device_key,
                sig: &r.signature,
            })
            .collect();
        let valid = verify_many(&checks);
        // What the node said in this request, so that a machine is asked at most once.
        let mut asked = BTreeMap::new();
        readings
            .iter()
            .zip(valid)
            .map(|(r, ok)| {
                if !ok {
                    let e = OracleError::BadReadingSignature;
                    return Some(ReadingOutcome::refused_at_door(r, e.code(), e.to_string()));
                }
                self.check_device_key(r, &mut asked)
            })
            .collect()
    }

    /// Whether `r` is signed by its machine's current device key, from the cache or the node;
    /// `asked` holds the answers the node gave for this request.
    fn check_device_key(
        &self,
        r: &SignedReading,
        asked: &mut BTreeMap<u64, Result<Known, String>>,
    ) -> Option<ReadingOutcome> {
        let id = r.reading.machine_id;
        let known = match asked.get(&id) {
            Some(k) => k.clone(),
            None => {
                let cached = self.device_keys.get(id, Instant::now());
                // A key other than the one remembered may be a rotation: ask again.
                let rotated = matches!(cached, Some(Known::Active(k)) if k != r.device_key);
                match cached {
                    Some(k) if !rotated => Ok(k),
                    _ if asked.len() >= MAX_LOOKUPS_PER_REQUEST => {
                        let why = format!(
                            "the request names more than {MAX_LOOKUPS_PER_REQUEST} machines \
                             the gateway must ask the node about"
                        );
                        return Some(ReadingOutcome::not_queued(r, "too_many_machines", why));
                    }
                    _ => self.ask_node(id, asked),
                }
            }
        };
        let e = match known {
            Ok(Known::Active(k)) if k == r.device_key => return None,
            Ok(Known::Active(_)) => OracleError::WrongDeviceKey(id),
            Ok(Known::Revoked) => OracleError::MachineRevoked(id),
            Ok(Known::Unknown) => OracleError::UnknownMachine(id),
            Err(why) => return Some(ReadingOutcome::not_queued(r, "node_unreachable", why)),
        };
        Some(ReadingOutcome::refused_at_door(r, e.code(), e.to_string()))
    }

    /// Asks the node about machine `id`, remembers the answer for this request in `asked`
    /// and, when there is one, in the cache.
    fn ask_node(
        &self,
        id: u64,
        asked: &mut BTreeMap<u64, Result<Known, String>>,
    ) -> Result<Known, String> {
        let answer = match self.client.get(&format!("/v1/machine/{id}")) {
            Ok(v) if v["status"] == "revoked" => Ok(Known::Revoked),
            Ok(v) => serde_json::from_value::<PublicKey>(v["device_key"].clone())
                .map(Known::Active)
                .map_err(|e| {
                    format!("the node's answer about machine {id} has no device key: {e}")
                }),
            Err(e) => match e.downcast_ref::<NodeError>() {
                Some(n) if n.code == "unknown_machine" => Ok(Known::Unknown),
                _ => Err(format!("cannot ask the node about machine {id}: {e:#}")),
            },
        };
        if let Ok(k) = answer {
            self.device_keys.put(id, k, Instant::now());
        }
        asked.insert(id, answer.clone());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use machina_oracle::MeterReading;
    use machina_primitives::Keypair;

    fn reading(machine_id: u64, device: &Keypair) -> SignedReading {
        MeterReading {
            machine_id,
            channel: 0,
            seq: 1,
            timestamp_ms: 1_000,
            import_wh: 10,
            export_wh: 0,
        }
        .sign(9, device)
    }

    /// A gateway on chain 9 whose node does not answer: only the cache can vouch.
    fn offline_gateway() -> Gateway {
        let g = Gateway::new("http://127.0.0.1:9", Keypair::dev("gateway"), None, 64);
        g.chain_id.set(9).expect("unset");
        g
    }

    #[test]
    fn readings_are_refused_at_the_door_with_the_oracles_codes() {
        let g = offline_gateway();
        let device = Keypair::dev("meter");
        let now = Instant::now();
        g.device_keys.put(1, Known::Active(device.public()), now);
        g.device_keys.put(2, Known::Revoked, now);
        g.device_keys.put(3, Known::Unknown, now);
        let good = reading(1, &device);
        let mut forged = good;
        forged.reading.import_wh += 1;
        // Signed for another chain.
        let other_chain = MeterReading { ..good.reading }.sign(10, &device);
        let rs = [
            good,
            forged,
            other_chain,
            reading(2, &device),
            reading(3, &device),
        ];
        let codes: Vec<_> = g
            .check_readings(&rs)
            .into_iter()
            .map(|v| v.map(|o| (o.status, o.code.expect("a code"))))
            .collect();
        let refused = |c: &str| Some((Status::Refused, c.to_owned()));
        assert_eq!(
            codes,
            [
                None,
                refused("bad_reading_signature"),
                refused("bad_reading_signature"),
                refused("machine_revoked"),
                refused("unknown_machine"),
            ]
        );
        // Another key than the one remembered is checked with the node, which is not there:
        // the reading is not queued, and the device is told to post it again.
        let o = g.check_readings(&[reading(1, &Keypair::dev("other"))])[0]
            .clone()
            .expect("not queued");
        assert_eq!(
            (o.status, o.code.as_deref()),
            (Status::Failed, Some("node_unreachable"))
        );
        assert!(o.message.is_some_and(|m| m.contains("post it again")));
    }

    #[test]
    fn a_request_asks_the_node_about_a_bounded_number_of_machines() {
        let g = offline_gateway();
        let device = Keypair::dev("meter");
        let rs: Vec<_> = (0..=MAX_LOOKUPS_PER_REQUEST as u64)
            .map(|id| reading(id, &device))
            .collect();
        let verdicts = g.check_readings(&rs);
        let code = |i: usize| verdicts[i].as_ref().and_then(|o| o.code.clone());
        assert_eq!(code(0).as_deref(), Some("node_unreachable"));
        assert_eq!(
            code(MAX_LOOKUPS_PER_REQUEST).as_deref(),
            Some("too_many_machines")
        );
    }

    #[test]
    fn remembered_keys_expire_and_the_cache_stays_bounded() {
        let keys = DeviceKeys::default();
        let t = Instant::now();
        let k = Keypair::dev("meter").public();
        keys.put(1, Known::Active(k), t);
        keys.put(2, Known::Unknown, t);
        assert_eq!(keys.get(1, t + DEVICE_KEY_TTL / 2), Some(Known::Active(k)));
        assert_eq!(keys.get(1, t + DEVICE_KEY_TTL), None);
        assert_eq!(
            keys.get(2, t + UNKNOWN_MACHINE_TTL / 2),
            Some(Known::Unknown)
        );
        assert_eq!(keys.get(2, t + UNKNOWN_MACHINE_TTL), None);
        for id in 3..=MAX_CACHED_MACHINES as u64 + 1 {
            keys.put(id, Known::Revoked, t);
        }
        // Refreshing one keeps it.
        keys.put(2, Known::Unknown, t);
        keys.put(MAX_CACHED_MACHINES as u64 + 2, Known::Revoked, t);
        assert_eq!(keys.remembered(), MAX_CACHED_MACHINES);
        assert_eq!(keys.get(1, t), None);
        assert_eq!(keys.get(3, t), None);
        assert_eq!(keys.get(2, t), Some(Known::Unknown));
    }
}
