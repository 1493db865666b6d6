"""The charger's state in words for people: the phone page and ``scc status`` say the same.

A status that looks idle may not be (a car held by a schedule set in the Wallbox app shows as
Ready; auto-lock locks a charger with a car in it), and a charger in OCPP mode refuses the
cloud's pause and resume: docs/design.md, "Decision rules" and "The Wallbox cloud" say what the
controller does in each case; these are the words that tell the user.
"""

from __future__ import annotations

from common.models import ChargerState, Decision, Reason

#: What OCPP mode means for solar charging, and the two ways out (as the controller logs it).
OCPP_MODE_TEXT = (
    "The charger is in OCPP mode: the Wallbox cloud refuses pause and resume, so solar charging "
    "cannot start or pause the car. Switch OCPP off in the Wallbox app, or let Solar Car Charge "
    "control the charger over local OCPP."
)

#: What the charger's state means for solar charging, in words (docs/design.md, "Decision
#: rules"), by status id.
STATE_WORDS = {
    161: "Ready: no car, or a car waiting for a schedule set in the Wallbox app. When the sun "
    "would charge a car, solar charging asks the charger once to start; if a schedule still "
    "holds the car, remove the schedule in the Wallbox app.",
    177: "Scheduled: a schedule set in the Wallbox app holds the car. Solar charging asks it to "
    "start when there is sun; a schedule that starts the car itself (a night tariff) is left "
    "alone.",
    165: "Locked: the charger takes no car until it is unlocked in the Wallbox app; solar "
    "charging does not unlock it.",
    210: "Locked with a car connected: unlock the charger in the Wallbox app for the car to "
    "charge. With auto-lock on it locks itself again after a while: turn auto-lock off for "
    "solar charging.",
    180: "The car takes no power: it is full, or its own timer holds it.",
}
_SAME_WORDS = {162: 161, 179: 177, 209: 165, 181: 180}


def charger_note(charger: ChargerState | None, decision: Decision | None) -> str:
    """The charger's state in words, when it is one a person may wonder about; else ""."""
    if decision is not None and decision.reason is Reason.START_REFUSED:
        return (
            "The charger stayed on its schedule when asked to start: a schedule set in the "
            "Wallbox app holds the car. Solar charging asks again within the hour; remove the "
            "schedule in the app to charge on the sun."
        )
    if decision is not None and decision.reason is Reason.SCHEDULE:
        return "The Wallbox app's schedule is charging the car: solar charging leaves it alone."
    if charger is None or charger.status_id is None:
        return ""
    words = STATE_WORDS.get(_SAME_WORDS.get(charger.status_id, charger.status_id))
    if words is None and charger.status == "Unknown":
        return (
            f"Unknown charger status {charger.status_id}: nothing is sent, but in solar mode a "
            "car drawing power without surplus is paused."
        )
    return words or ""


def control_lines(charger: ChargerState | None) -> list[str]:
    """OCPP mode, or commands the cloud refuses this account: solar charging cannot work."""
    if charger is None:
        return []
    if charger.operation_mode == "ocpp":
        return [OCPP_MODE_TEXT]
    if charger.refused:
        what = charger.refused.replace("set_current", "setting the current").replace(",", ", ")
        return [
            f"The Wallbox cloud refuses {what} for this account (HTTP 403): the account needs "
            "the rights to control the charger (ask its owner), or the charger is in OCPP mode."
        ]
    return []
