"""The pass rule `make validate` applies to each OCI validation file (tests/validation/tap.py), on the shapes
of output the runtime-tools suite prints: exit 0, a TAP plan, no `not ok`, as many points as planned."""

from validation.tap import cell, judge, runtime_error

PASSING = "TAP version 13\nok 1 - create MUST succeed\nok 2 # skip not supported\n1..2\n"


def test_all_points_ok_and_planned_passes():
    v = judge(0, PASSING)
    assert v.passed and v.planned == 2 and v.points == 2 and v.skipped == 1
    assert v.label == "pass (1 skipped)" and v.first_failure == ""


def test_not_ok_fails_even_with_exit_zero():
    """hooks_stdin exits 0 after printing `not ok`."""
    out = 'TAP version 13\nnot ok 1 - wrong status\n  ---\n  {"error": "x"}\n  ...\nok 2 - poststop\n1..2\n'
    v = judge(0, out, "failed to start the container\npyrunc: execve(true): operation not permitted\n")
    assert not v.passed and v.label == "FAIL"
    assert v.first_failure == "not ok 1 - wrong status ← pyrunc: execve(true): operation not permitted"


def test_nested_not_ok_in_yaml_is_not_a_point():
    """runtimetest's own TAP, nested in the outer file's YAML diagnostics, is indented and does not count."""
    out = "TAP version 13\n  ---\n  stdout: |\n    not ok 1 - inner\n  ...\nok 1 - outer\n1..1\n"
    assert judge(0, out).passed


def test_silent_exit_zero_is_the_refusal_the_fail_files_expect():
    """process_capabilities_fail prints nothing and exits 0 when create is refused; it exits 1 otherwise."""
    v = judge(0, "", "failed to create the container\npyrunc: unknown capability 'CAP_TEST'\n")
    assert v.passed and v.label == "pass (refused, no TAP)"
    why = "Any value which cannot be mapped to a relevant kernel interface MUST cause an error"
    assert judge(1, "", why).first_failure == f"exit 1 ← {why}"


def test_exit_status_missing_plan_and_short_count_each_fail():
    assert judge(1, PASSING).first_failure == "exit 1"
    assert judge(0, "ok 1 - a\n").first_failure == "no TAP plan"
    assert judge(0, "ok 1 - a\n1..3\n").first_failure == "1 of 3 planned points"


def test_empty_plan_passes_only_without_a_diagnostic():
    """The hook files plan no points (`1..0`) and report a failure only as a YAML diagnostic."""
    assert judge(0, "TAP version 13\n1..0\n").passed
    diag = '  ---\n  {\n    "error": "Hooks MUST be called in the listed order\\nRefer to: x"\n  }\n  ...\n'
    out = f"TAP version 13\n{diag}1..0\n"
    v = judge(0, out)
    assert not v.passed
    assert v.first_failure == "1..0 with a diagnostic: Hooks MUST be called in the listed order Refer to: x"


def test_timeout_fails_and_says_so():
    v = judge(None, "TAP version 13\n", "", timeout=120)
    assert not v.passed and v.first_failure == "timeout after 120s"


def test_runtime_error_skips_the_suites_wrapping_and_reduces_runc_logfmt():
    err = 'failed to create the container\ntime="2026" level=error msg="runc create failed: no file"\nexit status 1\n'
    assert runtime_error(err) == "runc create failed: no file"
    assert runtime_error("failed to start the container\nexit status 1\n") == ""


def test_cell_escapes_pipes_joins_lines_and_truncates():
    assert cell("a | b\nc") == "a \\| b c"
    assert len(cell("x" * 500)) == 160
