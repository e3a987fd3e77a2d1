//! The request bodies the API accepts, re-exported for the fuzz targets in `fuzz/` only:
//! they deserialise arbitrary bytes exactly as the handlers do (through [`ApiJson`]) and run
//! what parses through the same conversion into domain types. Not part of the service's API;
//! hidden from the docs.
//!
//! [`ApiJson`]: super::extract::ApiJson

pub use super::admin::{
    CalendarRequest, ClockRequest, DistrictRequest, EducationHeadRequest, GroupRequest,
    KindergartenRequest, PolicyRequest,
};
pub use super::applications::{RegistrationRequest, SurveyAnswers};
pub use super::kindergarten::VacancyReport;
pub use super::staff::{Reason, RefusalRequest, RevocationRequest};
pub use super::views::NamesView;
