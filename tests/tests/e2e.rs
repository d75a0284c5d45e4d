//! End-to-end: the conformance suite over real HTTP against each demo, and the
//! start-up checks.

use session_tests::backends::{Filesystem, Memory};
use session_tests::conformance_suite;
use session_tests::demo::{DemoApp, Framework};

conformance_suite!(poem_memory, Framework::Poem, Memory);
conformance_suite!(poem_filesystem, Framework::Poem, Filesystem);

#[test]
fn startup_fails_on_a_bad_session_type() {
    let output =
        DemoApp::expect_startup_failure(Framework::Poem, "", &[("SESSION_TYPE", "rediss")]);
    assert!(output.contains("SESSION_TYPE"), "{output}");
    assert!(output.contains("rediss"), "{output}");
}

#[test]
fn startup_fails_on_a_typo_in_session_toml() {
    let output = DemoApp::expect_startup_failure(
        Framework::Poem,
        "type = \"memory\"\ncookie_nmae = \"sid\"\n",
        &[],
    );
    assert!(output.contains("cookie_nmae"), "{output}");
    assert!(output.contains("cookie_name"), "did you mean: {output}");
    assert!(output.contains("Session.toml"), "{output}");
}

#[test]
fn writes_under_the_null_backend_name_session_type() {
    let app = DemoApp::start(Framework::Poem, "type = \"null\"\n", &[]);
    let mut client = app.client();
    assert_eq!(client.get("/read").body, "0", "reads work");
    let response = client.get("/incr");
    assert_eq!(response.status, 500);
    assert!(response.body.contains("SESSION_TYPE"), "{}", response.body);
}
