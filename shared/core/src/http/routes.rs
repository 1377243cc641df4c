//! The contract's route table, shared by every function (and by the `$default` route).

use crate::area::Area;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    Captcha,
    CaptchaVerify,
    Register,
    Login,
    Logout,
    Refresh,
    LockStatus,
    TotpSetup,
    TotpEnable,
    TotpDisable,
    Jwks,
    UsersMe,
    UsersDelete,
    Hello,
    HealthLive,
    HealthReady,
    HealthReport,
}

/// Routes sharing a per-IP rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateGroup {
    Captcha,
    Login,
    Register,
    Refresh,
    LockStatus,
}

impl RateGroup {
    pub const ALL: [RateGroup; 5] = [
        RateGroup::Captcha,
        RateGroup::Login,
        RateGroup::Register,
        RateGroup::Refresh,
        RateGroup::LockStatus,
    ];

    /// Its key under `rate_limits` in the configuration, and in Redis.
    pub fn name(self) -> &'static str {
        match self {
            RateGroup::Captcha => "captcha",
            RateGroup::Login => "login",
            RateGroup::Register => "register",
            RateGroup::Refresh => "refresh",
            RateGroup::LockStatus => "lock_status",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// `matchit` syntax: `{name}` captures one segment.
    pub path: &'static str,
    pub id: RouteId,
    pub area: Area,
    pub rate_group: Option<RateGroup>,
}

/// One row of the table: method, path, route, area, rate group.
const fn route(
    method: &'static str,
    path: &'static str,
    id: RouteId,
    area: Area,
    rate_group: Option<RateGroup>,
) -> Route {
    Route {
        method,
        path,
        id,
        area,
        rate_group,
    }
}

use Area::{Auth, Greeter, Health, Users};
use RateGroup as Rate;

/// Every endpoint of the API contract. `template.yaml` must route exactly these.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("GET",    "/api/v1/auth/captcha",                  RouteId::Captcha,       Auth,    Some(Rate::Captcha)),
    route("POST",   "/api/v1/auth/captcha/verify",           RouteId::CaptchaVerify, Auth,    Some(Rate::Captcha)),
    route("POST",   "/api/v1/auth/register",                 RouteId::Register,      Auth,    Some(Rate::Register)),
    route("POST",   "/api/v1/auth/login",                    RouteId::Login,         Auth,    Some(Rate::Login)),
    route("POST",   "/api/v1/auth/logout",                   RouteId::Logout,        Auth,    None),
    route("POST",   "/api/v1/auth/refresh",                  RouteId::Refresh,       Auth,    Some(Rate::Refresh)),
    route("GET",    "/api/v1/auth/lock-status/{identifier}", RouteId::LockStatus,    Auth,    Some(Rate::LockStatus)),
    route("POST",   "/api/v1/auth/totp/setup",               RouteId::TotpSetup,     Auth,    None),
    route("POST",   "/api/v1/auth/totp/enable",              RouteId::TotpEnable,    Auth,    None),
    route("POST",   "/api/v1/auth/totp/disable",             RouteId::TotpDisable,   Auth,    None),
    route("GET",    "/.well-known/jwks.json",                RouteId::Jwks,          Auth,    None),
    route("GET",    "/api/v1/users/me",                      RouteId::UsersMe,       Users,   None),
    route("DELETE", "/api/v1/users/me",                      RouteId::UsersDelete,   Users,   None),
    route("GET",    "/helloworld/{name}",                    RouteId::Hello,         Greeter, None),
    route("GET",    "/health/live",                          RouteId::HealthLive,    Health,  None),
    route("GET",    "/health/ready",                         RouteId::HealthReady,   Health,  None),
    route("GET",    "/health",                               RouteId::HealthReport,  Health,  None),
];

/// The result of matching a method and path against the table.
#[derive(Debug, PartialEq, Eq)]
pub enum Match {
    Found {
        route: &'static Route,
        params: Vec<(String, String)>,
    },
    MethodNotAllowed {
        allow: String,
    },
    NotFound,
}

fn path_table() -> &'static matchit::Router<Vec<&'static Route>> {
    static TABLE: OnceLock<matchit::Router<Vec<&'static Route>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut paths: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
        for route in ROUTES {
            match paths.iter_mut().find(|(path, _)| *path == route.path) {
                Some((_, routes)) => routes.push(route),
                None => paths.push((route.path, vec![route])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, routes) in paths {
            router
                .insert(path, routes)
                .expect("the route table has no conflicting paths");
        }
        router
    })
}

/// Route first, then method: an unknown path is 404 whatever its method.
pub fn match_route(method: &str, path: &str) -> Match {
    let Ok(found) = path_table().at(path) else {
        return Match::NotFound;
    };
    match found.value.iter().find(|r| r.method == method) {
        Some(route) => Match::Found {
            route,
            params: found
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        None => Match::MethodNotAllowed {
            allow: found
                .value
                .iter()
                .map(|r| r.method)
                .collect::<Vec<_>>()
                .join(", "),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_routes_and_captures_parameters() {
        match match_route("GET", "/api/v1/auth/lock-status/alice%40example.com") {
            Match::Found { route, params } => {
                assert_eq!(route.id, RouteId::LockStatus);
                assert_eq!(
                    params,
                    vec![("identifier".into(), "alice%40example.com".into())]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            match_route("DELETE", "/api/v1/users/me"),
            Match::Found { route, .. } if route.id == RouteId::UsersDelete
        ));
    }

    #[test]
    fn unknown_path_is_404_and_wrong_method_is_405_with_allow() {
        assert_eq!(match_route("GET", "/nope"), Match::NotFound);
        assert_eq!(
            match_route("POST", "/api/v1/auth/lock-status"),
            Match::NotFound
        );
        assert_eq!(
            match_route("PUT", "/api/v1/users/me"),
            Match::MethodNotAllowed {
                allow: "GET, DELETE".into()
            }
        );
        assert_eq!(
            match_route("GET", "/api/v1/auth/login"),
            Match::MethodNotAllowed {
                allow: "POST".into()
            }
        );
    }
}
