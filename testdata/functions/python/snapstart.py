"""An awslambdaric handler with SnapStart runtime hooks (snapshot_restore_py),
for rapid's init caching tests."""

from snapshot_restore_py import register_after_restore, register_before_snapshot

state = {"restored": False}


@register_before_snapshot
def before_snapshot():
    print("snapstart: before snapshot", flush=True)


@register_after_restore
def after_restore():
    state["restored"] = True
    print("snapstart: after restore", flush=True)


def handler(event, context):
    return {"restored": state["restored"]}
