"""The web app on Elastic Beanstalk: moto lacks most of its API, so the exact call sequences
for create, no-op, update, teardown and an unhealthy environment are pinned with botocore's
Stubber, which checks every parameter against AWS's own API model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from ordercli.aws import Aws, Target
from ordercli.config import load_settings
from ordercli.deploy.plan import plan_up
from ordercli.deploy.resources import eb_application, eb_environment
from ordercli.deploy.specs import RoleSpec, build_specs
from ordercli.errors import AwsError
from ordercli.names import Names

NAMES = Names("shop", "us-east-1", "123456789012")
BUCKET = "elasticbeanstalk-us-east-1-123456789012"
STACKS = [
    "64bit Amazon Linux 2023 v4.1.0 running Python 3.11",
    "64bit Amazon Linux 2023 v4.3.2 running Python 3.12",
    "64bit Amazon Linux 2 v3.7.0 running Python 3.8",
    "64bit Amazon Linux 2023 v4.3.2 running Python 3.9",
]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def specs(**overrides: Any) -> dict[str, Any]:
    settings = load_settings({"stack": "shop"}, environ={}, overrides=overrides or None)
    return {
        s.kind: s for s in build_specs(settings, NAMES, webapp=True) if s.kind.startswith("eb_")
    }


@pytest.fixture
def aws() -> Any:
    a = Aws(Target("aws", "us-east-1"), sleep=lambda s: None)
    a.notes = []
    a.note = a.notes.append
    return a


def env_description(status: str, health: str, version: str) -> dict[str, Any]:
    return {
        "Environments": [
            {
                "EnvironmentName": "shop-web",
                "ApplicationName": "shop-webapp",
                "Status": status,
                "Health": health,
                "VersionLabel": version,
                "CNAME": "shop-web.example",
            }
        ]
    }


def event(message: str, severity: str = "INFO") -> dict[str, Any]:
    return {"EventDate": NOW, "Message": message, "Severity": severity}


def test_bundle_is_deterministic_and_labels_the_version() -> None:
    from ordercli.deploy.package import webapp_bundle

    a, b = webapp_bundle(), webapp_bundle()
    assert a.data == b.data
    assert specs()["eb_application"].version_label == f"ordercli-{a.sha256_hex[:16]}"
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(a.data)).namelist()
    assert {
        "application.py",
        "Procfile",
        "requirements.txt",
        "lambda_src/order.py",
        "templates/form.html",
        "static/app.js",
    } <= set(names)


def test_newest_al2023_python_platform_is_chosen(aws: Any) -> None:
    eb = aws.client("elasticbeanstalk")
    with Stubber(eb) as stub:
        stub.add_response("list_available_solution_stacks", {"SolutionStacks": STACKS})
        assert eb_environment.newest_python_stack(eb) == STACKS[1]


def test_create_sequence(aws: Any) -> None:
    s = specs()
    label = s["eb_application"].version_label
    eb, s3 = aws.client("elasticbeanstalk"), aws.client("s3")
    with Stubber(eb) as ebs, Stubber(s3) as s3s:
        ebs.add_response(
            "create_application",
            {"Application": {}},
            {"ApplicationName": "shop-webapp", "Description": ANY, "Tags": ANY},
        )
        _stub_upload(ebs, s3s, label)
        eb_application.create(aws, s["eb_application"])

        ebs.add_response("list_available_solution_stacks", {"SolutionStacks": STACKS})
        ebs.add_response(
            "create_environment",
            {},
            {
                "ApplicationName": "shop-webapp",
                "EnvironmentName": "shop-web",
                "SolutionStackName": STACKS[1],
                "VersionLabel": label,
                "OptionSettings": list(s["eb_environment"].options),
                "Tags": ANY,
            },
        )
        ebs.add_response("describe_environments", env_description("Launching", "Grey", label))
        ebs.add_response("describe_events", {"Events": [event("createEnvironment is starting.")]})
        ebs.add_response("describe_environments", env_description("Ready", "Green", label))
        ebs.add_response(
            "describe_events",
            {
                "Events": [
                    event("Environment health has transitioned to Ok."),
                    event("createEnvironment is starting."),
                ]
            },
        )
        eb_environment.create(aws, s["eb_environment"])
        ebs.assert_no_pending_responses()
        s3s.assert_no_pending_responses()
    assert aws.notes == [
        "shop-web: INFO: createEnvironment is starting.",
        "shop-web: INFO: Environment health has transitioned to Ok.",
    ]
    opts = {o["OptionName"]: o["Value"] for o in s["eb_environment"].options}
    assert (
        opts["IamInstanceProfile"] == "shop-webapp" and opts["ServiceRole"] == "shop-webapp-service"
    )
    assert opts["InstanceTypes"] == "t3.micro"
    assert (
        opts["ORDERS_QUEUE_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/shop-orders"
    )


def _stub_upload(ebs: Stubber, s3s: Stubber, label: str) -> None:
    """A new version: the storage bucket, the bundle's upload, the version itself."""
    ebs.add_response("create_storage_location", {"S3Bucket": BUCKET})
    s3s.add_response(
        "put_object", {}, {"Bucket": BUCKET, "Key": f"shop-webapp/{label}.zip", "Body": ANY}
    )
    ebs.add_response(
        "create_application_version",
        {"ApplicationVersion": {}},
        {
            "ApplicationName": "shop-webapp",
            "VersionLabel": label,
            "Description": ANY,
            "SourceBundle": {"S3Bucket": BUCKET, "S3Key": f"shop-webapp/{label}.zip"},
            "Process": True,
        },
    )
    for status in ("PROCESSING", "PROCESSED"):  # used only once processed
        ebs.add_response(
            "describe_application_versions",
            {"ApplicationVersions": [{"VersionLabel": label, "Status": status}]},
            {"ApplicationName": "shop-webapp", "VersionLabels": [label]},
        )


def _stub_reads(ebs: Stubber, label: str, options: list[dict[str, str]]) -> None:
    """The reads a plan makes of an application and environment that are up to date."""
    ebs.add_response(
        "describe_applications",
        {"Applications": [{"ApplicationName": "shop-webapp"}]},
        {"ApplicationNames": ["shop-webapp"]},
    )
    ebs.add_response(
        "describe_application_versions",
        {"ApplicationVersions": [{"VersionLabel": label}]},
        {"ApplicationName": "shop-webapp", "VersionLabels": [label]},
    )
    ebs.add_response(
        "describe_environments",
        env_description("Ready", "Green", label),
        {
            "ApplicationName": "shop-webapp",
            "EnvironmentNames": ["shop-web"],
            "IncludeDeleted": False,
        },
    )
    ebs.add_response(
        "describe_configuration_settings",
        {"ConfigurationSettings": [{"OptionSettings": options}]},
        {"ApplicationName": "shop-webapp", "EnvironmentName": "shop-web"},
    )


def test_unchanged_app_is_a_noop_with_only_reads(aws: Any) -> None:
    s = specs()
    label = s["eb_application"].version_label
    eb = aws.client("elasticbeanstalk")
    calls: list[str] = []
    aws.on("before-call", lambda model, **kw: calls.append(model.name))
    with Stubber(eb) as ebs:
        _stub_reads(ebs, label, list(s["eb_environment"].options))
        app_state = eb_application.read(aws, s["eb_application"])
        env_state = eb_environment.read(aws, s["eb_environment"])
        ebs.assert_no_pending_responses()
    assert app_state is not None and env_state is not None
    assert eb_application.diff(s["eb_application"], app_state) == []
    assert eb_environment.diff(s["eb_environment"], env_state) == []
    from ordercli.aws import is_mutating

    assert [c for c in calls if is_mutating(c)] == []


def test_changed_app_uploads_a_new_version_and_updates_the_environment(aws: Any) -> None:
    s = specs(**{"webapp.instance_type": "t3.small"})
    label = s["eb_application"].version_label
    current = eb_environment.EnvironmentState("ordercli-old", "Ready", "Green", {}, None)
    changes = eb_environment.diff(s["eb_environment"], current)
    reasons = [str(c) for c in changes]
    assert reasons[0] == f"version: live ordercli-old, config {label}"
    assert "InstanceTypes changed" in reasons
    eb, s3 = aws.client("elasticbeanstalk"), aws.client("s3")
    with Stubber(eb) as ebs, Stubber(s3) as s3s:
        _stub_upload(ebs, s3s, label)
        eb_application.update(
            aws,
            s["eb_application"],
            eb_application.ApplicationState(False),
            [eb_application.Change("version")],
        )
        ebs.add_response(
            "update_environment",
            {},
            {
                "ApplicationName": "shop-webapp",
                "EnvironmentName": "shop-web",
                "VersionLabel": label,
                "OptionSettings": list(s["eb_environment"].options),
            },
        )
        ebs.add_response("describe_environments", env_description("Ready", "Green", label))
        ebs.add_response("describe_events", {"Events": []})
        eb_environment.update(aws, s["eb_environment"], current, changes)
        ebs.assert_no_pending_responses()


def test_teardown_terminates_waits_and_removes_app_versions_and_bundles(aws: Any) -> None:
    s = specs()
    eb, s3 = aws.client("elasticbeanstalk"), aws.client("s3")
    with Stubber(eb) as ebs, Stubber(s3) as s3s:
        ebs.add_response(
            "terminate_environment", {}, {"EnvironmentName": "shop-web", "ForceTerminate": True}
        )
        ebs.add_response("describe_environments", env_description("Terminating", "Grey", "v"))
        ebs.add_response("describe_environments", {"Environments": []})
        eb_environment.delete(aws, s["eb_environment"], None)  # type: ignore[arg-type]
        ebs.add_response(
            "delete_application",
            {},
            {"ApplicationName": "shop-webapp", "TerminateEnvByForce": True},
        )
        ebs.add_response("create_storage_location", {"S3Bucket": BUCKET})
        s3s.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "shop-webapp/a.zip"}, {"Key": "shop-webapp/b.zip"}]},
            {"Bucket": BUCKET, "Prefix": "shop-webapp/"},
        )
        s3s.add_response(
            "delete_objects",
            {},
            {
                "Bucket": BUCKET,
                "Delete": {"Objects": [{"Key": "shop-webapp/a.zip"}, {"Key": "shop-webapp/b.zip"}]},
            },
        )
        eb_application.delete(aws, s["eb_application"], eb_application.ApplicationState(True))
        ebs.assert_no_pending_responses()
        s3s.assert_no_pending_responses()


def test_unhealthy_environment_fails_with_events_and_causes(aws: Any) -> None:
    s = specs()
    label = s["eb_application"].version_label
    eb = aws.client("elasticbeanstalk")
    with Stubber(eb) as ebs:
        ebs.add_response("describe_environments", env_description("Ready", "Red", label))
        ebs.add_response(
            "describe_events", {"Events": [event("Instance deployment failed.", "ERROR")]}
        )
        ebs.add_response(
            "describe_environment_health",
            {"Causes": ["Process default has been unhealthy for 5 minutes."]},
            {"EnvironmentName": "shop-web", "AttributeNames": ["Causes", "HealthStatus"]},
        )
        with pytest.raises(AwsError) as err:
            eb_environment.wait_ready(aws, s["eb_environment"], NOW)
    message = err.value.message
    assert "health Red" in message and "unhealthy for 5 minutes" in message
    assert "ERROR: Instance deployment failed." in message


def test_webapp_roles_are_least_privilege_plus_eb_managed_policies() -> None:
    from ordercli.deploy import policies

    settings = load_settings({"stack": "shop"}, environ={})
    roles = {
        s.name: s for s in build_specs(settings, NAMES, webapp=True) if isinstance(s, RoleSpec)
    }
    instance = roles["shop-webapp"]
    assert instance.policy is not None and policies.wildcards(instance.policy) == []
    actions = {a for st in policies.statements_of(instance.policy) for a in st["Action"]}
    assert actions == {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
    }
    assert instance.managed_policies == ("arn:aws:iam::aws:policy/AWSElasticBeanstalkWebTier",)
    assert all("AWSElasticBeanstalk" in a for a in roles["shop-webapp-service"].managed_policies)


def test_no_web_leaves_the_app_out_and_teardown_always_includes_it(mocked: None) -> None:
    from ordercli.context import Context, Options
    from ordercli.deploy import stack

    target = Target("aws", "us-east-1")
    ctx = Context(
        load_settings({"stack": "nw"}, environ={}, overrides={"webapp.enabled": False}),
        Options(),
        target,
        Aws(target),
    )
    assert not [s for s in stack.desired(ctx) if s.kind.startswith("eb_")]
    assert [s.kind for s in stack.desired(ctx, teardown=True) if s.kind.startswith("eb_")] == [
        "eb_application",
        "eb_environment",
    ]
    plan = plan_up(ctx.aws, stack.desired(ctx))
    assert all(a.spec.kind != "eb_environment" for a in plan.actions)


def test_a_version_that_fails_processing_stops_up_with_a_clear_error(aws: Any) -> None:
    s = specs()
    label = s["eb_application"].version_label
    eb = aws.client("elasticbeanstalk")
    with Stubber(eb) as ebs:
        ebs.add_response(
            "describe_application_versions",
            {"ApplicationVersions": [{"VersionLabel": label, "Status": "FAILED"}]},
        )
        with pytest.raises(AwsError) as err:
            eb_application.wait_processed(aws, s["eb_application"])
    assert f"could not process version {label}" in err.value.message


def test_a_busy_environment_is_waited_for_before_it_is_updated(aws: Any) -> None:
    s = specs()
    label = s["eb_application"].version_label
    eb = aws.client("elasticbeanstalk")
    calls: list[str] = []  # (the Stubber answers at before-call, so listen one step earlier)
    aws.on("before-parameter-build", lambda model, **kw: calls.append(model.name))
    with Stubber(eb) as ebs:
        ebs.add_response("describe_environments", env_description("Updating", "Grey", "old"))
        ebs.add_response("describe_environments", env_description("Ready", "Green", "old"))
        ebs.add_response("update_environment", {})
        ebs.add_response("describe_environments", env_description("Ready", "Green", label))
        ebs.add_response("describe_events", {"Events": []})
        busy = eb_environment.EnvironmentState("old", "Updating", "Grey", {}, None)
        eb_environment.update(aws, s["eb_environment"], busy, [])
        ebs.assert_no_pending_responses()
    assert calls.index("UpdateEnvironment") == 2  # only after it was seen Ready
    assert any("is busy" in n for n in aws.notes)


def test_a_just_made_instance_profile_is_retried(aws: Any) -> None:
    from botocore.exceptions import ClientError

    s = specs(**{"webapp.solution_stack": STACKS[1]})
    label = s["eb_application"].version_label
    eb = aws.client("elasticbeanstalk")
    with Stubber(eb) as ebs:
        ebs.add_client_error(
            "create_environment",
            "InvalidParameterValue",
            "The instance profile shop-webapp associated with the environment does not exist.",
        )
        ebs.add_response("create_environment", {})
        ebs.add_response("describe_environments", env_description("Ready", "Green", label))
        ebs.add_response("describe_events", {"Events": []})
        eb_environment.create(aws, s["eb_environment"])
        ebs.assert_no_pending_responses()
        ebs.add_client_error("create_environment", "InvalidParameterValue", "Bad option value.")
        with pytest.raises(ClientError):  # any other refusal is not retried
            eb_environment.create(aws, s["eb_environment"])


def test_a_stack_without_a_web_app_is_torn_down_and_shown_without_elastic_beanstalk(
    make_ctx: Any,
) -> None:
    from ordercli.deploy import stack
    from ordercli.operate import status

    stack.up(make_ctx("nw"))
    ctx = make_ctx("nw", **{"webapp.enabled": True})  # the config now says web; AWS has none
    services: list[str] = []
    ctx.aws.on(
        "before-call", lambda model, **kw: services.append(model.service_model.endpoint_prefix)
    )
    shown = status.stack_status(ctx)
    result = stack.teardown(ctx)
    assert "lambda" in services and "elasticbeanstalk" not in services
    assert {r["state"] for r in shown["resources"] if r["kind"].startswith("eb_")} == {"missing"}
    web = [a for a in result.plan.actions if a.spec.kind.startswith("eb_")]
    assert len(web) == 2 and {a.action for a in web} == {"noop"}
