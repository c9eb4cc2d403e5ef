//! The state keys the oracle module owns.

pub(crate) fn params() -> Vec<u8> {
    b"oracle/params".to_vec()
}

pub(crate) fn meter(machine_id: u64, channel: u16) -> Vec<u8> {
    [
        b"oracle/meter/".as_slice(),
        &machine_id.to_be_bytes(),
        &channel.to_be_bytes(),
    ]
    .concat()
}

pub(crate) fn log(machine_id: u64, channel: u16, slot: u64) -> Vec<u8> {
    [
        b"oracle/log/".as_slice(),
        &machine_id.to_be_bytes(),
        &channel.to_be_bytes(),
        &slot.to_be_bytes(),
    ]
    .concat()
}

pub(crate) fn feed(name: &str) -> Vec<u8> {
    [b"oracle/feed/".as_slice(), name.as_bytes()].concat()
}

pub(crate) fn feed_reports(name: &str) -> Vec<u8> {
    [b"oracle/feed_reports/".as_slice(), name.as_bytes()].concat()
}

pub(crate) fn stats(machine_id: u64) -> Vec<u8> {
    [b"oracle/stats/".as_slice(), &machine_id.to_be_bytes()].concat()
}
