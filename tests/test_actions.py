from embrace_bench.actions import ACTIONS, Magnitudes, normalize_action, parse_response


def test_parse_plain():
    p = parse_response("<think>the car is ahead</think><action>MoveForward</action>")
    assert p.action == "MoveForward" and p.think == "the car is ahead" and p.error == ""


def test_parse_tolerant_case_spacing_fences_and_reasoning_alias():
    text = "```xml\n<Reasoning> turn </Reasoning>\n< ACTION >  turn left </action>\n```"
    p = parse_response(text)
    assert p.action == "TurnLeft" and p.think == "turn"


def test_parse_strict_vocabulary_and_missing():
    assert parse_response("<action>Jump</action>").action is None
    assert "unknown action" in parse_response("<action>Jump</action>").error
    assert parse_response("MoveForward").error.startswith("no <action>")
    assert parse_response("").error == "empty response"
    assert parse_response(None).action is None


def test_last_action_tag_wins():
    assert parse_response("<action>TurnLeft</action> no wait <action>Finish</action>").action == "Finish"


def test_normalize_every_action_roundtrips():
    for a in ACTIONS:
        assert normalize_action(a) == a
        assert normalize_action(a.lower()) == a
    assert normalize_action("move_forward.") == "MoveForward"


def test_prompt_action_list_names_every_action_with_magnitudes():
    lines = Magnitudes().describe()
    assert [ln.split(":")[0] for ln in lines] == list(ACTIONS)
    assert "235 cm" in lines[0]
