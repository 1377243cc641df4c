//! The API areas (one Lambda function each) and the facts about each function that the template,
//! its tests, the docs and the CDK twin all need: which secrets it reads and what it connects to.

/// The API area a route belongs to: one Lambda function each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    Auth,
    Users,
    Greeter,
    Health,
}

impl Area {
    pub const ALL: [Area; 4] = [Area::Auth, Area::Users, Area::Greeter, Area::Health];

    pub fn function_name(self) -> &'static str {
        match self {
            Area::Auth => "auth",
            Area::Users => "users",
            Area::Greeter => "greeter",
            Area::Health => "health",
        }
    }
}
