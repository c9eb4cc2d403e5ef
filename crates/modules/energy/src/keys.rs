//! The state keys the energy module owns.

pub(crate) fn zones() -> Vec<u8> {
    b"energy/zones".to_vec()
}

pub(crate) fn zone(name: &str) -> Vec<u8> {
    [b"energy/zone/".as_slice(), name.as_bytes()].concat()
}

fn zone_part(name: &str) -> Vec<u8> {
    let mut v = (name.len() as u8).to_be_bytes().to_vec();
    v.extend_from_slice(name.as_bytes());
    v
}

pub(crate) fn interval(name: &str, start: u64) -> Vec<u8> {
    [
        b"energy/interval/".as_slice(),
        &zone_part(name),
        &start.to_be_bytes(),
    ]
    .concat()
}

pub(crate) fn slot(name: &str, start: u64, n: u64) -> Vec<u8> {
    [
        b"energy/slot/".as_slice(),
        &zone_part(name),
        &start.to_be_bytes(),
        &n.to_be_bytes(),
    ]
    .concat()
}

pub(crate) fn order(name: &str, id: u64) -> Vec<u8> {
    [
        b"energy/order/".as_slice(),
        &zone_part(name),
        &id.to_be_bytes(),
    ]
    .concat()
}

pub(crate) fn machine_count(name: &str, start: u64, machine_id: u64) -> Vec<u8> {
    [
        b"energy/mcount/".as_slice(),
        &zone_part(name),
        &start.to_be_bytes(),
        &machine_id.to_be_bytes(),
    ]
    .concat()
}
