//! trybuild UI tests: misuse of `#[derive(SessionData)]` is a spanned compile
//! error (`ui/fail`), and every supported form compiles (`ui/pass`).

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
