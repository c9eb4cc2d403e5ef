//! Clear-sky PV output: the sun's position from day of year, latitude and hour, the Haurwitz
//! clear-sky irradiance, and the irradiance on a tilted, oriented panel.

/// A PV array.
#[derive(Clone, Copy, Debug)]
pub struct Panel {
    /// Peak power, kW.
    pub kwp: f64,
    /// Tilt from horizontal, degrees.
    pub tilt_deg: f64,
    /// Azimuth, degrees from north (180 = south).
    pub azimuth_deg: f64,
}

/// Share of diffuse light in clear-sky global irradiance.
const DIFFUSE_SHARE: f64 = 0.15;

/// Losses from irradiance to AC power (inverter, temperature, wiring).
const PERFORMANCE_RATIO: f64 = 0.85;

/// The sun's elevation and azimuth (degrees) at local solar time `hour`.
pub fn sun_position(day_of_year: u32, latitude_deg: f64, hour: f64) -> (f64, f64) {
    let decl = 23.45f64.to_radians()
        * ((360.0 / 365.0) * (284.0 + f64::from(day_of_year)))
            .to_radians()
            .sin();
    let lat = latitude_deg.to_radians();
    let ha = (15.0 * (hour - 12.0)).to_radians();
    let sin_el = lat.sin() * decl.sin() + lat.cos() * decl.cos() * ha.cos();
    let el = sin_el.clamp(-1.0, 1.0).asin();
    let cos_az = ((decl.sin() * lat.cos() - decl.cos() * lat.sin() * ha.cos())
        / el.cos().max(1e-9))
    .clamp(-1.0, 1.0);
    let mut az = cos_az.acos().to_degrees();
    if ha > 0.0 {
        az = 360.0 - az;
    }
    (el.to_degrees(), az)
}

impl Panel {
    /// AC power under a clear sky, W.
    pub fn power_w(&self, day_of_year: u32, latitude_deg: f64, hour: f64) -> f64 {
        let (el, az) = sun_position(day_of_year, latitude_deg, hour);
        if el <= 0.0 {
            return 0.0;
        }
        let zen = (90.0 - el).to_radians();
        // Haurwitz clear-sky global horizontal irradiance, W/m2.
        let ghi = 1098.0 * zen.cos() * (-0.057 / zen.cos()).exp();
        let beam_h = ghi * (1.0 - DIFFUSE_SHARE);
        let tilt = self.tilt_deg.to_radians();
        let cos_inc = zen.cos() * tilt.cos()
            + zen.sin() * tilt.sin() * (az - self.azimuth_deg).to_radians().cos();
        let beam_poa = beam_h / zen.cos().max(0.05) * cos_inc.max(0.0);
        let diffuse_poa = ghi * DIFFUSE_SHARE * (1.0 + tilt.cos()) / 2.0;
        // 1 kWp gives 1 kW at 1000 W/m2.
        self.kwp * (beam_poa + diffuse_poa) * PERFORMANCE_RATIO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sun_is_highest_at_noon_and_south() {
        let (el, az) = sun_position(172, 48.1, 12.0);
        assert!((el - 65.3).abs() < 1.0, "{el}");
        assert!((az - 180.0).abs() < 1.0, "{az}");
        assert!(sun_position(172, 48.1, 0.0).0 < 0.0);
    }

    #[test]
    fn a_south_panel_yields_near_peak_at_summer_noon() {
        let p = Panel {
            kwp: 5.0,
            tilt_deg: 30.0,
            azimuth_deg: 180.0,
        };
        let w = p.power_w(172, 48.1, 12.0);
        assert!(w > 3_500.0 && w < 5_000.0, "{w}");
        assert!(p.power_w(172, 48.1, 12.0) > p.power_w(172, 48.1, 8.0));
    }
}
