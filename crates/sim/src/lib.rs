//! Machina simulator physics: a deterministic energy community of households with PV,
//! batteries, EV chargers and loads.
//!
//! Pure and seeded: the same options give the same energies, so a demo run is reproducible to
//! the state root. The chain side (keys, transactions, orders) lives in `machina demo`.

pub mod rng;
pub mod solar;

use rng::Rng;
use serde::Serialize;

/// Minutes in one market interval of the simulated community.
pub const INTERVAL_MIN: u64 = 15;

/// What kind of machine a simulated device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    /// The household's meter: its consumption (imports).
    Meter,
    /// A PV inverter: its generation (exports).
    Solar,
    /// A home battery: imports when charging, exports when discharging.
    Battery,
    /// An EV charger: imports during evening sessions.
    EvCharger,
}

/// One simulated machine and its energy in every interval.
#[derive(Clone, Debug, Serialize)]
pub struct SimMachine {
    /// Household index.
    pub household: usize,
    /// Kind.
    pub device: Device,
    /// Rated power, W.
    pub rated_power_w: u64,
    /// Storage capacity, Wh (batteries).
    pub capacity_wh: Option<u64>,
    /// Energy imported in each interval, Wh.
    pub import_wh: Vec<u64>,
    /// Energy exported in each interval, Wh.
    pub export_wh: Vec<u64>,
}

/// The simulated community over the whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Community {
    /// Households.
    pub households: usize,
    /// Intervals simulated.
    pub intervals: usize,
    /// Zone of each household.
    pub zone_of: Vec<usize>,
    /// All machines.
    pub machines: Vec<SimMachine>,
    /// Community PV generation per interval, Wh.
    pub pv_wh: Vec<u64>,
    /// Community consumption (loads and EVs) per interval, Wh.
    pub load_wh: Vec<u64>,
}

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Households.
    pub households: usize,
    /// Zones (households are spread round-robin).
    pub zones: usize,
    /// Simulated hours.
    pub hours: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Day of the year (1 to 365) for the sun's path.
    pub day_of_year: u32,
    /// Latitude, degrees north.
    pub latitude_deg: f64,
}

/// Shape of household consumption by hour of day, relative to the daily mean: a standard
/// residential profile (low at night, a morning and a larger evening peak).
const LOAD_SHAPE: [f64; 24] = [
    0.55, 0.45, 0.40, 0.38, 0.38, 0.45, 0.75, 1.05, 1.10, 1.00, 0.95, 1.00, 1.10, 1.05, 0.95, 0.95,
    1.05, 1.25, 1.50, 1.60, 1.50, 1.30, 1.00, 0.75,
];

fn shape_at(hour: f64) -> f64 {
    let h = hour.rem_euclid(24.0);
    let (i, f) = (h.floor() as usize, h.fract());
    LOAD_SHAPE[i] * (1.0 - f) + LOAD_SHAPE[(i + 1) % 24] * f
}

/// Wh as an integer, never negative.
fn wh(x: f64) -> u64 {
    x.max(0.0).round() as u64
}

struct Household {
    mean_load_w: f64,
    pv: Option<solar::Panel>,
    battery: Option<(f64, f64)>,
    ev: Option<(f64, f64, f64)>,
}

fn household(rng: &mut Rng) -> Household {
    Household {
        mean_load_w: rng.range(250.0, 550.0),
        pv: rng.chance(0.6).then(|| solar::Panel {
            kwp: rng.range(3.0, 10.0),
            tilt_deg: rng.range(20.0, 40.0),
            azimuth_deg: rng.range(120.0, 240.0),
        }),
        // (capacity Wh, power W)
        battery: rng
            .chance(0.3)
            .then(|| (rng.range(5_000.0, 10_000.0), 3_000.0)),
        // (arrival hour, energy needed Wh, power W)
        ev: rng
            .chance(0.2)
            .then(|| (rng.range(17.0, 20.0), rng.range(8_000.0, 20_000.0), 7_400.0)),
    }
}

/// Simulates the community: each household's load, PV, battery and EV, interval by interval.
pub fn simulate(o: &Options) -> Community {
    let mut rng = Rng::new(o.seed);
    let intervals = (o.hours * 60 / INTERVAL_MIN) as usize;
    let dt_h = INTERVAL_MIN as f64 / 60.0;
    let zones = o.zones.max(1);
    // Cloudiness per zone and hour: a random walk between overcast and clear.
    let mut clouds = vec![vec![1.0f64; (o.hours + 1) as usize]; zones];
    for z in &mut clouds {
        let mut c = rng.range(0.6, 1.0);
        for v in z.iter_mut() {
            c = (c + rng.range(-0.15, 0.15)).clamp(0.3, 1.0);
            *v = c;
        }
    }
    let mut machines = Vec::new();
    let (mut pv_total, mut load_total) = (vec![0u64; intervals], vec![0u64; intervals]);
    for h in 0..o.households {
        let hh = household(&mut rng);
        let zone = h % zones;
        let mut meter = vec![0u64; intervals];
        let mut pv = vec![0u64; intervals];
        let (mut bat_in, mut bat_out) = (vec![0u64; intervals], vec![0u64; intervals]);
        let mut ev = vec![0u64; intervals];
        let mut soc = hh.battery.map_or(0.0, |(cap, _)| cap * 0.2);
        let mut ev_left = hh.ev.map_or(0.0, |e| e.1);
        for i in 0..intervals {
            let hour = (i as f64 + 0.5) * dt_h;
            let load = hh.mean_load_w * shape_at(hour) * rng.range(0.8, 1.2) * dt_h;
            let gen = hh.pv.map_or(0.0, |p| {
                let cloud = clouds[zone][(hour as usize).min(o.hours as usize)];
                p.power_w(o.day_of_year, o.latitude_deg, hour % 24.0) * cloud * dt_h
            });
            meter[i] = wh(load);
            pv[i] = wh(gen);
            if let Some((cap, power)) = hh.battery {
                let surplus = gen - load;
                let hod = hour % 24.0;
                if surplus > 0.0 {
                    let c = surplus.min(power * dt_h).min(cap - soc);
                    soc += c;
                    bat_in[i] = wh(c);
                } else if (17.0..23.0).contains(&hod) {
                    let d = (-surplus).min(power * dt_h).min(soc - cap * 0.1).max(0.0);
                    soc -= d;
                    bat_out[i] = wh(d);
                }
            }
            if let Some((arrive, _, power)) = hh.ev {
                if hour % 24.0 >= arrive && ev_left > 0.0 {
                    let c = ev_left.min(power * dt_h);
                    ev_left -= c;
                    ev[i] = wh(c);
                }
            }
            pv_total[i] += pv[i];
            load_total[i] += meter[i] + ev[i];
        }
        let none = vec![0u64; intervals];
        machines.push(SimMachine {
            household: h,
            device: Device::Meter,
            rated_power_w: 15_000,
            capacity_wh: None,
            import_wh: meter,
            export_wh: none.clone(),
        });
        if let Some(p) = hh.pv {
            machines.push(SimMachine {
                household: h,
                device: Device::Solar,
                rated_power_w: (p.kwp * 1000.0) as u64,
                capacity_wh: None,
                import_wh: none.clone(),
                export_wh: pv,
            });
        }
        if let Some((cap, power)) = hh.battery {
            machines.push(SimMachine {
                household: h,
                device: Device::Battery,
                rated_power_w: power as u64,
                capacity_wh: Some(cap as u64),
                import_wh: bat_in,
                export_wh: bat_out,
            });
        }
        if hh.ev.is_some() {
            machines.push(SimMachine {
                household: h,
                device: Device::EvCharger,
                rated_power_w: 11_000,
                capacity_wh: None,
                import_wh: ev,
                export_wh: none,
            });
        }
    }
    Community {
        households: o.households,
        intervals,
        zone_of: (0..o.households).map(|h| h % zones).collect(),
        machines,
        pv_wh: pv_total,
        load_wh: load_total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(seed: u64) -> Options {
        Options {
            households: 20,
            zones: 2,
            hours: 24,
            seed,
            day_of_year: 172,
            latitude_deg: 48.1,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_community() {
        let (a, b) = (simulate(&opts(7)), simulate(&opts(7)));
        assert_eq!(a.pv_wh, b.pv_wh);
        assert_eq!(a.load_wh, b.load_wh);
        assert_ne!(simulate(&opts(8)).load_wh, a.load_wh);
    }

    #[test]
    fn pv_follows_the_sun_and_no_machine_exceeds_its_rating() {
        let c = simulate(&opts(1));
        // Nothing at midnight, most around noon.
        assert_eq!(c.pv_wh[0], 0);
        let noon = c.pv_wh[48];
        assert!(noon > 0 && noon >= c.pv_wh[32] && noon >= c.pv_wh[64]);
        for m in &c.machines {
            let cap = m.rated_power_w / 4; // Wh in 15 minutes
            assert!(
                m.import_wh.iter().chain(&m.export_wh).all(|e| *e <= cap),
                "{:?}",
                m.device
            );
        }
    }
}
