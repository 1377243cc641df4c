//! CloudWatch metric math, as much as the template's rollback alarms use: numbers, metric ids,
//! `+ - * /`, unary minus, comparisons (`> >= < <= == !=`, 1 or 0), `&&` and `||`, parentheses
//! and `IF(condition, then[, else])`. Any other function is refused by name at parse time, so
//! that an alarm using one is unevaluable rather than silently wrong. A value is `None` when the
//! period has no datapoint (or a division by zero): it propagates, as a missing datapoint does.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Id(String),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    /// `IF(condition, then, else)`; without `else`, a false condition is no datapoint.
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Word(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let literal: String = chars[start..i].iter().collect();
            let number = literal
                .parse()
                .map_err(|_| format!("{literal} is not a number"))?;
            out.push(Token::Number(number));
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = ["&&", "||", ">=", "<=", "==", "!="]
            .into_iter()
            .find(|op| *op == two);
        if let Some(op) = op {
            out.push(Token::Op(op));
            i += 2;
            continue;
        }
        out.push(match c {
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            '+' => Token::Op("+"),
            '-' => Token::Op("-"),
            '*' => Token::Op("*"),
            '/' => Token::Op("/"),
            '>' => Token::Op(">"),
            '<' => Token::Op("<"),
            other => return Err(format!("unexpected character {other:?}")),
        });
        i += 1;
    }
    Ok(out)
}

/// Precedence climbing over the token list.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Binary operators by precedence level, loosest first.
const LEVELS: [&[(&str, Op)]; 5] = [
    &[("||", Op::Or)],
    &[("&&", Op::And)],
    &[
        (">=", Op::Ge),
        ("<=", Op::Le),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("==", Op::Eq),
        ("!=", Op::Ne),
    ],
    &[("+", Op::Add), ("-", Op::Sub)],
    &[("*", Op::Mul), ("/", Op::Div)],
];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, wanted: Token) -> Result<(), String> {
        match self.next() {
            Some(token) if token == wanted => Ok(()),
            other => Err(format!("expected {wanted:?}, found {other:?}")),
        }
    }

    fn level(&mut self, level: usize) -> Result<Expr, String> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.level(level + 1)?;
        loop {
            let op = match self.peek() {
                Some(Token::Op(symbol)) => LEVELS[level]
                    .iter()
                    .find(|(s, _)| s == symbol)
                    .map(|(_, op)| *op),
                _ => None,
            };
            let Some(op) = op else { return Ok(left) };
            self.at += 1;
            let right = self.level(level + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Op("-")) {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Number(n)) => Ok(Expr::Number(n)),
            Some(Token::Open) => {
                let inner = self.level(0)?;
                self.expect(Token::Close)?;
                Ok(inner)
            }
            Some(Token::Word(word)) if self.peek() == Some(&Token::Open) => self.call(&word),
            Some(Token::Word(word)) => Ok(Expr::Id(word)),
            other => Err(format!("unexpected {other:?}")),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, String> {
        if !name.eq_ignore_ascii_case("IF") {
            return Err(format!(
                "the function {name} is not supported by the local runner"
            ));
        }
        self.expect(Token::Open)?;
        let mut args = vec![self.level(0)?];
        while self.peek() == Some(&Token::Comma) {
            self.at += 1;
            args.push(self.level(0)?);
        }
        self.expect(Token::Close)?;
        let mut args = args.into_iter().map(Box::new);
        match (args.next(), args.next(), args.next(), args.next()) {
            (Some(condition), Some(then), otherwise, None) => {
                Ok(Expr::If(condition, then, otherwise))
            }
            _ => Err("IF takes a condition, a value and an optional other value".into()),
        }
    }
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        tokens: tokens(text)?,
        at: 0,
    };
    let expr = parser.level(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(format!("unexpected {token:?} after the expression")),
    }
}

fn truth(value: bool) -> f64 {
    if value {
        1.0
    } else {
        0.0
    }
}

impl Expr {
    /// The metric ids it reads.
    pub fn ids(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Number(_) => {}
            Expr::Id(id) => {
                out.insert(id.clone());
            }
            Expr::Neg(inner) => inner.collect(out),
            Expr::Binary(_, a, b) => {
                a.collect(out);
                b.collect(out);
            }
            Expr::If(c, a, b) => {
                c.collect(out);
                a.collect(out);
                if let Some(b) = b {
                    b.collect(out);
                }
            }
        }
    }

    /// Its value for one period, each id's value given by `value`. Only the branch `IF` takes
    /// is evaluated, so `IF(n >= 10, x / n, 0)` never divides by a missing `n`.
    pub fn eval(&self, value: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        match self {
            Expr::Number(n) => Some(*n),
            Expr::Id(id) => value(id),
            Expr::Neg(inner) => inner.eval(value).map(|v| -v),
            Expr::Binary(op, a, b) => {
                let (a, b) = (a.eval(value)?, b.eval(value)?);
                match op {
                    Op::Add => Some(a + b),
                    Op::Sub => Some(a - b),
                    Op::Mul => Some(a * b),
                    Op::Div if b == 0.0 => None,
                    Op::Div => Some(a / b),
                    Op::Gt => Some(truth(a > b)),
                    Op::Ge => Some(truth(a >= b)),
                    Op::Lt => Some(truth(a < b)),
                    Op::Le => Some(truth(a <= b)),
                    Op::Eq => Some(truth(a == b)),
                    Op::Ne => Some(truth(a != b)),
                    Op::And => Some(truth(a != 0.0 && b != 0.0)),
                    Op::Or => Some(truth(a != 0.0 || b != 0.0)),
                }
            }
            Expr::If(condition, then, otherwise) => {
                if condition.eval(value)? != 0.0 {
                    then.eval(value)
                } else {
                    otherwise.as_ref().and_then(|o| o.eval(value))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(pairs: &'a [(&'a str, Option<f64>)]) -> impl Fn(&str) -> Option<f64> + 'a {
        move |id| pairs.iter().find(|(k, _)| *k == id).and_then(|(_, v)| *v)
    }

    #[test]
    fn the_server_error_rate_expression_guards_low_traffic() {
        let rate = parse("IF(requests >= 10, 100 * serverErrors / requests, 0)").unwrap();
        assert_eq!(
            rate.ids(),
            ["requests", "serverErrors"].map(String::from).into()
        );
        let at = |requests, errors| {
            rate.eval(&with(&[("requests", requests), ("serverErrors", errors)]))
        };
        assert_eq!(at(Some(20.0), Some(3.0)), Some(15.0));
        assert_eq!(at(Some(9.0), Some(9.0)), Some(0.0), "under 10 requests");
        assert_eq!(at(None, None), None, "no requests: no datapoint");
        assert_eq!(at(Some(10.0), None), None, "no errors series: missing");
    }

    #[test]
    fn precedence_comparisons_and_if_without_else() {
        let value = |text: &str| parse(text).unwrap().eval(&with(&[("a", Some(4.0))]));
        assert_eq!(value("1 + 2 * 3"), Some(7.0));
        assert_eq!(value("(1 + 2) * 3"), Some(9.0));
        assert_eq!(value("-a / 2"), Some(-2.0));
        assert_eq!(value("a > 3 && a < 5"), Some(1.0));
        assert_eq!(value("a == 3 || a != 4"), Some(0.0));
        assert_eq!(value("IF(a < 3, 1)"), None);
        assert_eq!(value("if(a > 3, 1)"), Some(1.0));
        assert_eq!(value("a / 0"), None);
    }

    #[test]
    fn other_functions_and_malformed_text_are_refused_by_name() {
        let refused = parse("ANOMALY_DETECTION_BAND(m1, 2)").unwrap_err();
        assert!(refused.contains("ANOMALY_DETECTION_BAND"), "{refused}");
        assert!(parse("SUM(METRICS())").unwrap_err().contains("SUM"));
        for bad in ["1 +", "(a", "a b", "IF(a)", "a % 2", ""] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
