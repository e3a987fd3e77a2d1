//! Kindergarten accounts: report free places (each goes at once to whoever's turn it is),
//! withdraw one reported by mistake, confirm that a referral was handed in, mark that an
//! enrolled child left (its place goes on at once); and the views a kindergarten head works
//! from: the children coming with referrals (what the kindergarten needs to receive them,
//! nothing more), each group's figures and its roster.

use super::applications::{read_blocking, Ctx};
use super::auth::Caller;
use super::error::{self, ApiError};
use super::extract::ApiJson;
use super::views::ReferralView;
use super::{created, no_store, ok, AppState};
use crate::domain::access_log::ViewKind;
use crate::domain::application::ApplicationId;
use crate::domain::catalog::{AgeBand, GroupId, KindergartenId, Language};
use crate::domain::numbers as ids;
use crate::domain::referral::PlaceId;
use crate::domain::staff::{Role, Scope};
use crate::service::{Command, NewPlaces, Outcome};
use crate::store;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(vacancies))
        .routes(routes!(hand_in))
        .routes(routes!(overview))
        .routes(routes!(roster))
        .routes(routes!(withdraw_place))
        .routes(routes!(mark_left))
}

/// Free places of one kind. With a group, the age band and language default to the
/// group's.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VacancyReport {
    pub group: Option<u32>,
    /// Children born from this date...
    pub born_from: Option<NaiveDate>,
    /// ...to this date, inclusive.
    pub born_to: Option<NaiveDate>,
    /// kk or ru
    pub language: Option<String>,
    /// 1 to 300.
    pub count: u32,
    /// From when the places are free: today up to a year ahead.
    pub available_from: NaiveDate,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VacanciesReported {
    pub places: Vec<u64>,
    /// The referrals issued for them, in queue order; places nobody fits stay open and go
    /// to the first fitting registration.
    pub referrals: Vec<ReferralView>,
}

/// The kindergarten's own account: the path's kindergarten must be the account's.
fn own_kindergarten(ctx: &Ctx, id: KindergartenId) -> Result<(), ApiError> {
    let account = ctx.caller.staff_in(&[Role::Kindergarten], ctx.lang)?;
    if account.scope != Scope::Kindergarten(id) {
        return Err(ctx.error(error::FORBIDDEN));
    }
    Ok(())
}

/// Reports free places; answers with the referrals they were issued as.
#[utoipa::path(post, path = "/api/v1/kindergartens/{id}/vacancies", tag = "kindergarten",
    params(("id" = u32, Path, description = "Kindergarten id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    request_body = VacancyReport, security(("staff_token" = [])),
    responses((status = 201, body = VacanciesReported), (status = 403, description = "Another kindergarten")))]
async fn vacancies(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
    ApiJson(report): ApiJson<VacancyReport>,
) -> Result<Response, ApiError> {
    let kindergarten = KindergartenId(id);
    own_kindergarten(&ctx, kindergarten)?;
    let age_band = match (report.born_from, report.born_to) {
        (None, None) => None,
        (Some(born_from), Some(born_to)) if born_from <= born_to => {
            Some(AgeBand { born_from, born_to })
        }
        _ => {
            return Err(ctx
                .error(error::INVALID)
                .with_detail("born_from, born_to".into()))
        }
    };
    let language = match report.language.as_deref() {
        None => None,
        Some(code) => Some(
            Language::parse(code)
                .ok_or_else(|| ctx.error(error::INVALID).with_detail("language".into()))?,
        ),
    };
    let command = Command::ReportPlaces(NewPlaces {
        kindergarten,
        group: report.group.map(GroupId),
        age_band,
        language,
        count: report.count,
        available_from: report.available_from,
    });
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::PlacesReported { places, referrals } = outcome else {
        unreachable!("a report answers PlacesReported")
    };
    let state = app.service.read();
    let body = VacanciesReported {
        places: places.iter().map(|p| p.0).collect(),
        referrals: referrals
            .iter()
            .map(|r| ReferralView::of(&state.catalog, r))
            .collect(),
    };
    drop(state);
    Ok(created(replayed, body))
}

/// The child came with the referral: enrolled, the application completed, the place
/// filled. Only the referral's own kindergarten may confirm it.
#[utoipa::path(post, path = "/api/v1/referrals/{number}/hand-in", tag = "kindergarten",
    params(("number" = String, Path, description = "ESL-R5")),
    security(("staff_token" = [])),
    responses((status = 200, body = ReferralView), (status = 403, description = "Another kindergarten's referral"),
               (status = 409, description = "referral_not_live")))]
async fn hand_in(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    let account = ctx.caller.staff_in(&[Role::Kindergarten], ctx.lang)?;
    let Scope::Kindergarten(by) = account.scope else {
        return Err(ctx.error(error::FORBIDDEN));
    };
    let referral = ids::parse_referral(&app.service.read().catalog, &number)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let (outcome, replayed) = ctx
        .submission(&app)
        .run(Command::HandIn { referral, by })
        .await?;
    let Outcome::Referral(referral) = outcome else {
        unreachable!("a hand-in answers the referral")
    };
    let view = ReferralView::of(&app.service.read().catalog, &referral);
    Ok(ok(replayed, view))
}

/// The kindergarten's own account, or an administrator (who may read any kindergarten's
/// views but acts for none).
fn reader_of(ctx: &Ctx, id: KindergartenId) -> Result<(), ApiError> {
    let account = ctx
        .caller
        .staff_in(&[Role::Kindergarten, Role::Admin], ctx.lang)?;
    match account.role {
        Role::Admin => Ok(()),
        _ if account.scope == Scope::Kindergarten(id) => Ok(()),
        _ => Err(ctx.error(error::FORBIDDEN)),
    }
}

/// Records, before a view is answered, that the staff `caller` saw these applications'
/// children (the access log of issue 15 item 5: who, when, which application, never the
/// data itself). Every personal-data view of this module passes through here.
async fn personal_data_viewed(
    app: &AppState,
    caller: &Caller,
    kind: ViewKind,
    applications: Vec<ApplicationId>,
    lang: error::Lang,
) -> Result<(), ApiError> {
    if applications.is_empty() {
        return Ok(());
    }
    super::access_log::record_views(app, caller, kind, applications, lang).await
}

/// A group's figures. `free` is derived, not typed: capacity less the children enrolled, the
/// referrals outstanding and the places open (reported, not yet taken); never below 0.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupFigures {
    pub id: u32,
    pub name: String,
    /// kk or ru
    pub language: String,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub capacity: u32,
    pub enrolled: u32,
    /// Referrals issued for the group's places and not yet handed in.
    pub outstanding: u32,
    /// Places reported and not yet taken by any referral.
    pub open: u32,
    /// Places neither held nor reported: what the kindergarten may still report.
    pub free: u32,
    /// A closed group takes no new places (its live referrals stay valid).
    pub closed: bool,
}

/// A child coming with a referral: what the kindergarten needs to receive it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IncomingChild {
    /// `ESL-R5`.
    pub referral: String,
    pub group: Option<u32>,
    pub child_name: String,
    pub birth_date: NaiveDate,
    pub applicant_name: String,
    pub applicant_phone: String,
    pub valid_until: DateTime<Utc>,
    /// The last day it may be handed in (local).
    pub last_day: NaiveDate,
}

/// A place reported and not yet taken: it may be withdrawn if it was reported by mistake.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpenPlaceView {
    pub id: u64,
    pub group: Option<u32>,
    pub born_from: NaiveDate,
    pub born_to: NaiveDate,
    pub language: String,
    pub available_from: NaiveDate,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KindergartenOverview {
    pub id: u32,
    pub groups: Vec<GroupFigures>,
    /// By last day, earliest first.
    pub incoming: Vec<IncomingChild>,
    pub open_places: Vec<OpenPlaceView>,
}

/// A child of a group's roster.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RosterChild {
    /// The application it was enrolled through, `ESL-17`.
    pub application: String,
    pub child_name: String,
    pub birth_date: NaiveDate,
    /// When the head marked it as having left; absent for a child there now.
    pub left_at: Option<DateTime<Utc>>,
}

/// One group's roster (`group` absent: places reported without a group).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupRoster {
    pub group: Option<u32>,
    pub present: Vec<RosterChild>,
    /// The latest first, at most `LEFT_SHOWN_MAX` of the kindergarten's.
    pub left: Vec<RosterChild>,
}

/// How many children who left a roster lists (the latest).
pub const LEFT_SHOWN_MAX: u32 = 200;

/// The kindergarten's groups with their figures, the children coming, the open places.
pub async fn overview_of(
    app: &AppState,
    ctx_lang: error::Lang,
    caller: &Caller,
    id: KindergartenId,
) -> Result<KindergartenOverview, ApiError> {
    let (mut groups, incoming_ids, open_places) = {
        let state = app.service.read();
        let catalog = &state.catalog;
        if !catalog.kindergartens.contains_key(&id) {
            return Err(ApiError::new(error::NOT_FOUND, ctx_lang));
        }
        let mut groups: Vec<GroupFigures> = catalog
            .groups
            .values()
            .filter(|g| g.kindergarten == id)
            .map(|g| GroupFigures {
                id: g.id.0,
                name: g.name.clone(),
                language: g.language.code().to_string(),
                born_from: g.age_band.born_from,
                born_to: g.age_band.born_to,
                capacity: g.capacity,
                enrolled: 0,
                outstanding: 0,
                open: 0,
                free: 0,
                closed: g.closed,
            })
            .collect();
        let mut count = |group: Option<GroupId>, field: fn(&mut GroupFigures) -> &mut u32| {
            if let Some(figures) = groups.iter_mut().find(|f| Some(GroupId(f.id)) == group) {
                *field(figures) += 1;
            }
        };
        for place in state.enrolled.values().filter(|p| p.kindergarten == id) {
            count(place.group, |f| &mut f.enrolled);
        }
        let mut incoming = Vec::new();
        for live in state
            .live
            .values()
            .filter(|l| l.referral.kindergarten == id)
        {
            let group = state.places.get(&live.referral.place).and_then(|p| p.group);
            count(group, |f| &mut f.outstanding);
            incoming.push((live.referral.clone(), group));
        }
        let mut open_places = Vec::new();
        let district = catalog.kindergartens[&id].district;
        for place_id in state.open_places.get(&district).into_iter().flatten() {
            let place = &state.places[place_id];
            if place.kindergarten != id {
                continue;
            }
            count(place.group, |f| &mut f.open);
            open_places.push(OpenPlaceView {
                id: place.id.0,
                group: place.group.map(|g| g.0),
                born_from: place.age_band.born_from,
                born_to: place.age_band.born_to,
                language: place.language.code().to_string(),
                available_from: place.available_from,
            });
        }
        let incoming: Vec<_> = incoming
            .into_iter()
            .map(|(r, group)| (ids::referral_number(catalog, r.id), r, group))
            .collect();
        (groups, incoming, open_places)
    };
    for figures in &mut groups {
        let held = figures.enrolled + figures.outstanding + figures.open;
        figures.free = figures.capacity.saturating_sub(held);
    }
    let applications: Vec<ApplicationId> =
        incoming_ids.iter().map(|(_, r, _)| r.application).collect();
    personal_data_viewed(
        app,
        caller,
        ViewKind::Referral,
        applications.clone(),
        ctx_lang,
    )
    .await?;
    let rows = read_blocking(app, ctx_lang, move |conn| {
        applications
            .iter()
            .map(|a| store::application(conn, *a))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut incoming: Vec<IncomingChild> = incoming_ids
        .into_iter()
        .zip(rows)
        .filter_map(|((number, referral, group), row)| {
            let application = row?;
            Some(IncomingChild {
                referral: number,
                group: group.map(|g| g.0),
                child_name: application.child.full_name,
                birth_date: application.child.birth_date,
                applicant_name: application.applicant.full_name,
                applicant_phone: application.applicant.phone,
                valid_until: referral.valid_until,
                last_day: crate::domain::deadline::last_day(referral.valid_until),
            })
        })
        .collect();
    incoming.sort_by(|a, b| (a.valid_until, &a.referral).cmp(&(b.valid_until, &b.referral)));
    Ok(KindergartenOverview {
        id: id.0,
        groups,
        incoming,
        open_places,
    })
}

/// Every group's roster: the children enrolled there now, and those who left.
pub async fn rosters_of(
    app: &AppState,
    lang: error::Lang,
    caller: &Caller,
    id: KindergartenId,
) -> Result<Vec<GroupRoster>, ApiError> {
    let (mut rosters, present, catalog) = {
        let state = app.service.read();
        if !state.catalog.kindergartens.contains_key(&id) {
            return Err(ApiError::new(error::NOT_FOUND, lang));
        }
        let rosters: Vec<GroupRoster> = state
            .catalog
            .groups
            .values()
            .filter(|g| g.kindergarten == id)
            .map(|g| GroupRoster {
                group: Some(g.id.0),
                present: Vec::new(),
                left: Vec::new(),
            })
            .collect();
        let present: Vec<(ApplicationId, Option<GroupId>)> = state
            .enrolled
            .iter()
            .filter(|(_, p)| p.kindergarten == id)
            .map(|(a, p)| (*a, p.group))
            .collect();
        (rosters, present, state.catalog.clone())
    };
    let (present_rows, left_rows) = read_blocking(app, lang, move |conn| {
        let mut rows = Vec::new();
        for (application, group) in present {
            if let Some(row) = store::application(conn, application)? {
                rows.push((row, group, None));
            }
        }
        let mut left = Vec::new();
        for (application, at, group) in store::left_children(conn, id, LEFT_SHOWN_MAX)? {
            if let Some(row) = store::application(conn, application)? {
                left.push((row, group, Some(at)));
            }
        }
        Ok((rows, left))
    })
    .await?;
    let viewed: Vec<ApplicationId> = present_rows
        .iter()
        .chain(&left_rows)
        .map(|(a, _, _)| a.id)
        .collect();
    personal_data_viewed(app, caller, ViewKind::Roster, viewed, lang).await?;
    for (is_left, rows) in [(false, present_rows), (true, left_rows)] {
        for (application, group, left_at) in rows {
            let group = group.map(|g| g.0);
            let index = match rosters.iter().position(|r| r.group == group) {
                Some(index) => index,
                None => {
                    rosters.push(GroupRoster {
                        group,
                        present: Vec::new(),
                        left: Vec::new(),
                    });
                    rosters.len() - 1
                }
            };
            let child = RosterChild {
                application: ids::application_number(&catalog, application.id),
                child_name: application.child.full_name,
                birth_date: application.child.birth_date,
                left_at,
            };
            match is_left {
                false => rosters[index].present.push(child),
                true => rosters[index].left.push(child),
            }
        }
    }
    for roster in &mut rosters {
        roster
            .present
            .sort_by(|a, b| (&a.child_name, &a.application).cmp(&(&b.child_name, &b.application)));
    }
    Ok(rosters)
}

/// The kindergarten's groups with capacity, enrolled, outstanding, open and free places;
/// the children coming with referrals (name, birth date, the applicant's name and phone);
/// the open places.
#[utoipa::path(get, path = "/api/v1/kindergartens/{id}/overview", tag = "kindergarten",
    params(("id" = u32, Path, description = "Kindergarten id")),
    security(("staff_token" = [])),
    responses((status = 200, body = KindergartenOverview), (status = 403, description = "Another kindergarten")))]
async fn overview(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
) -> Result<Response, ApiError> {
    let id = KindergartenId(id);
    reader_of(&ctx, id)?;
    let view = overview_of(&app, ctx.lang, &ctx.caller, id).await?;
    Ok(no_store(ok(false, view)))
}

/// Each group's roster: the children enrolled through referrals, and those marked as left.
#[utoipa::path(get, path = "/api/v1/kindergartens/{id}/roster", tag = "kindergarten",
    params(("id" = u32, Path, description = "Kindergarten id")),
    security(("staff_token" = [])),
    responses((status = 200, body = Vec<GroupRoster>), (status = 403, description = "Another kindergarten")))]
async fn roster(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u32>,
) -> Result<Response, ApiError> {
    let id = KindergartenId(id);
    reader_of(&ctx, id)?;
    let view = rosters_of(&app, ctx.lang, &ctx.caller, id).await?;
    Ok(no_store(ok(false, view)))
}

/// Withdraws an open place the kindergarten reported by mistake (one no referral holds).
#[utoipa::path(post, path = "/api/v1/places/{id}/withdraw", tag = "kindergarten",
    params(("id" = u64, Path, description = "Place id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    security(("staff_token" = [])),
    responses((status = 200, description = "Withdrawn"), (status = 403, description = "Another kindergarten's place"),
               (status = 409, description = "place_not_open")))]
async fn withdraw_place(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let account = ctx.caller.staff_in(&[Role::Kindergarten], ctx.lang)?;
    let Scope::Kindergarten(by) = account.scope else {
        return Err(ctx.error(error::FORBIDDEN));
    };
    let command = Command::WithdrawPlace {
        place: PlaceId(id),
        by,
    };
    let (_, replayed) = ctx.submission(&app).run(command).await?;
    Ok(ok(replayed, super::applications::Done::new("withdrawn")))
}

/// The answer to a child marked as left: the referral its freed place went to, if any
/// child fitted it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChildLeftView {
    pub next: Option<ReferralView>,
}

/// Marks that an enrolled child left the kindergarten: the application ends as `left`, and
/// the place is free from today and goes to the next child at once, in one command.
#[utoipa::path(post, path = "/api/v1/kindergartens/{id}/children/{number}/left", tag = "kindergarten",
    params(("id" = u32, Path, description = "Kindergarten id"),
           ("number" = String, Path, description = "The application the child was enrolled through, ESL-17"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe")),
    security(("staff_token" = [])),
    responses((status = 200, body = ChildLeftView), (status = 403, description = "Another kindergarten"),
               (status = 409, description = "child_not_enrolled, child_transfer_pending")))]
async fn mark_left(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, number)): Path<(u32, String)>,
) -> Result<Response, ApiError> {
    let kindergarten = KindergartenId(id);
    own_kindergarten(&ctx, kindergarten)?;
    let application = ids::parse_application(&app.service.read().catalog, &number)
        .ok_or_else(|| ctx.error(error::NOT_FOUND))?;
    let command = Command::MarkLeft {
        id: application,
        by: kindergarten,
    };
    let (outcome, replayed) = ctx.submission(&app).run(command).await?;
    let Outcome::Left { next } = outcome else {
        unreachable!("marking a child left answers Left")
    };
    let view = ChildLeftView {
        next: next.map(|r| ReferralView::of(&app.service.read().catalog, &r)),
    };
    Ok(ok(replayed, view))
}
