//! The numbers people see: an application is `ESL-17` (its district's code and its number in
//! that district's registration journal), a referral `ESL-R5`. Parsing needs the catalog;
//! anything that does not parse is simply not found.

use super::application::{ApplicationId, RegistrationNumber};
use super::catalog::{Catalog, DistrictId};
use super::referral::{ReferralId, ReferralNumber};

pub fn district_code(catalog: &Catalog, district: DistrictId) -> String {
    catalog
        .districts
        .get(&district)
        .map_or_else(|| district.0.to_string(), |d| d.code.clone())
}

pub fn application_number(catalog: &Catalog, id: ApplicationId) -> String {
    format!("{}-{}", district_code(catalog, id.district), id.number.0)
}

pub fn referral_number(catalog: &Catalog, id: ReferralId) -> String {
    format!("{}-R{}", district_code(catalog, id.district), id.number.0)
}

fn split(text: &str) -> Option<(&str, &str)> {
    let (code, number) = text.rsplit_once('-')?;
    Some((code, number))
}

fn positive(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n > 0)
}

pub fn parse_application(catalog: &Catalog, text: &str) -> Option<ApplicationId> {
    let (code, number) = split(text)?;
    let district = catalog.district_by_code(&code.to_ascii_uppercase())?.id;
    Some(ApplicationId {
        district,
        number: RegistrationNumber(positive(number)?),
    })
}

pub fn parse_referral(catalog: &Catalog, text: &str) -> Option<ReferralId> {
    let (code, number) = split(text)?;
    let number = number.strip_prefix('R').or(number.strip_prefix('r'))?;
    let district = catalog.district_by_code(&code.to_ascii_uppercase())?.id;
    Some(ReferralId {
        district,
        number: ReferralNumber(positive(number)?),
    })
}

/// A district given by its code (`ESL`) or its numeric id.
pub fn parse_district(catalog: &Catalog, text: &str) -> Option<DistrictId> {
    if let Some(d) = catalog.district_by_code(&text.to_ascii_uppercase()) {
        return Some(d.id);
    }
    let id = DistrictId(positive(text)?);
    catalog.districts.contains_key(&id).then_some(id)
}
