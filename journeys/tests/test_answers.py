"""Tests for the tolerant reading of free-text answers (pure Python, no DB)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeys.answers import EXPECTATIONS, MAX_TEXT, Parsed, parse_answer

YES = Parsed(True, True)
NO = Parsed(True, False)


def understood(value: bool | int | float | str) -> Parsed:
    return Parsed(True, value)


def not_understood(why: str) -> Parsed:
    return Parsed(False, None, why)


YES_NO_CASES = [
    pytest.param("yes", YES, id="yes is a yes"),
    pytest.param("Yes!", YES, id="yes with a capital and an exclamation mark is a yes"),
    pytest.param("y", YES, id="a lone y is a yes"),
    pytest.param("yep", YES, id="yep is a yes"),
    pytest.param("sounds good, call me", YES, id="positive intent is a yes"),
    pytest.param("I'm interested!", YES, id="interest is a yes"),
    pytest.param("count me in", YES, id="count me in is a yes"),
    pytest.param("not interested thanks", NO, id="not interested is a no"),
    pytest.param("yeah", YES, id="yeah is a yes"),
    pytest.param("yup", YES, id="yup is a yes"),
    pytest.param("yesss", YES, id="a stretched yesss is a yes"),
    pytest.param("sure", YES, id="sure is a yes"),
    pytest.param("Of course.", YES, id="of course is a yes"),
    pytest.param("definitely", YES, id="definitely is a yes"),
    pytest.param("correct", YES, id="correct is a yes"),
    pytest.param("I do", YES, id="i do is a yes"),
    pytest.param("I have one", YES, id="i have one is a yes"),
    pytest.param("YES I HAVE A VISA", YES, id="a shouted yes i have a visa is a yes"),
    pytest.param("I think so", YES, id="i think so is a yes"),
    pytest.param("sure, no problem", YES, id="no problem is not read as a no"),
    pytest.param("👍", YES, id="a thumbs up is a yes"),
    pytest.param("👍🏽", YES, id="a thumbs up with a skin tone is a yes"),
    pytest.param("no", NO, id="no is a no"),
    pytest.param("n", NO, id="a lone n is a no"),
    pytest.param("Nope.", NO, id="nope is a no"),
    pytest.param("nah", NO, id="nah is a no"),
    pytest.param("no visa", NO, id="no visa is a no"),
    pytest.param("not yet", NO, id="not yet is a no"),
    pytest.param("I don't", NO, id="i don't is a no"),
    pytest.param("I don’t", NO, id="i don't with a curly apostrophe is a no"),
    pytest.param("don't have one", NO, id="don't have one is a no"),
    pytest.param("haven't got one", NO, id="haven't got one is a no"),
    pytest.param("never", NO, id="never is a no"),
    pytest.param("👎", NO, id="a thumbs down is a no"),
    pytest.param("I do not have a visa", NO, id="a negation after i do makes it a no"),
    pytest.param("no, I don't", NO, id="no followed by i don't is a no"),
    pytest.param("yes, but I don't have it yet", NO, id="a negation later in a yes makes a no"),
    pytest.param(
        "yes and no", not_understood("both yes and no in 'yes and no'"), id="yes and no is unclear"
    ),
    pytest.param("no yes", not_understood("both yes and no in 'no yes'"), id="no yes is unclear"),
    pytest.param("maybe", not_understood("no yes/no in 'maybe'"), id="maybe is unclear"),
    pytest.param("not sure", not_understood("no yes/no in 'not sure'"), id="not sure is unclear"),
    pytest.param(
        "I don't know",
        not_understood("no yes/no in 'I don't know'"),
        id="i don't know is unclear rather than a no",
    ),
    pytest.param(
        "what visa?", not_understood("no yes/no in 'what visa?'"), id="a question back is unclear"
    ),
    pytest.param("", not_understood("the answer is empty"), id="an empty reply is unclear"),
    pytest.param("   ", not_understood("the answer is empty"), id="a blank reply is unclear"),
]

NUMBER_CASES = [
    pytest.param("3", understood(3), id="a digit is a number"),
    pytest.param("three", understood(3), id="a number word is a number"),
    pytest.param("twenty five", understood(25), id="twenty five is 25"),
    pytest.param("forty-two", understood(42), id="a hyphenated number word is a number"),
    pytest.param("one hundred and five", understood(105), id="one hundred and five is 105"),
    pytest.param("a hundred", understood(100), id="a hundred is 100"),
    pytest.param("50,000", understood(50000), id="thousands separators are read"),
    pytest.param("£50,000", understood(50000), id="a currency sign is ignored"),
    pytest.param("50k", understood(50000), id="50k is fifty thousand"),
    pytest.param("1.5m", understood(1500000), id="1.5m is one and a half million"),
    pytest.param("50 grand", understood(50000), id="50 grand is fifty thousand"),
    pytest.param("about 40", understood(40), id="about 40 is 40"),
    pytest.param("around 40 people", understood(40), id="words around the number are ignored"),
    pytest.param("50-60k", understood(50000), id="a range takes its lower end and its scale"),
    pytest.param("1,5", understood(1.5), id="a decimal comma is a decimal point"),
    pytest.param("９", understood(9), id="a full width digit is a digit"),
    pytest.param("none", understood(0), id="none is zero"),
    pytest.param("lots", not_understood("no number in 'lots'"), id="lots is not a number"),
    pytest.param("no idea", not_understood("no number in 'no idea'"), id="no idea is not zero"),
    pytest.param(
        "9" * 400,
        not_understood(f"the number in '{'9' * 39}…' is too large"),
        id="an absurdly long number is refused, not infinite",
    ),
]

YEARS_CASES = [
    pytest.param("2 years", understood(2), id="2 years is 2"),
    pytest.param("two years", understood(2), id="two years is 2"),
    pytest.param("2 yrs", understood(2), id="2 yrs is 2"),
    pytest.param("3y", understood(3), id="3y is 3"),
    pytest.param("18 months", understood(1.5), id="18 months is one and a half years"),
    pytest.param("6 months", understood(0.5), id="6 months is half a year"),
    pytest.param("18m", understood(1.5), id="18m is months, not millions, for experience"),
    pytest.param("a year", understood(1), id="a year is 1"),
    pytest.param("a couple of years", understood(2), id="a couple of years is 2"),
    pytest.param("a few years", understood(3), id="a few years is 3"),
    pytest.param("1.5", understood(1.5), id="a bare number is years"),
    pytest.param("2.5 years", understood(2.5), id="a decimal number of years is kept"),
    pytest.param("a year and a half", understood(1.5), id="a year and a half is 1.5"),
    pytest.param("one and a half years", understood(1.5), id="one and a half years is 1.5"),
    pytest.param("half a year", understood(0.5), id="half a year is 0.5"),
    pytest.param("1 year 6 months", understood(1.5), id="years and months add up"),
    pytest.param("2 years and 3 months", understood(2.25), id="years and months joined by and"),
    pytest.param("2-3 years", understood(2), id="a range takes its lower end"),
    pytest.param("none", understood(0), id="none is zero years"),
    pytest.param("no experience", understood(0), id="no experience is zero years"),
    pytest.param("0", understood(0), id="0 is zero years"),
    pytest.param("5+ years", understood(5), id="5 plus years is 5"),
    pytest.param("over 3 years", understood(3), id="over 3 years is 3"),
    pytest.param("lots", not_understood("no years in 'lots'"), id="lots is not a duration"),
    pytest.param(
        "no idea", not_understood("no years in 'no idea'"), id="no idea is not zero experience"
    ),
    pytest.param(
        "since 2019",
        not_understood("more than 80 years in 'since 2019'"),
        id="a year date is refused rather than read as 2019 years",
    ),
]

WEEKS_CASES = [
    pytest.param("2 weeks", understood(2), id="2 weeks is 2"),
    pytest.param("six weeks", understood(6), id="six weeks is 6"),
    pytest.param("a week", understood(1), id="a week is 1"),
    pytest.param("a fortnight", understood(2), id="a fortnight is 2 weeks"),
    pytest.param("a month", understood(4), id="a month is 4 weeks"),
    pytest.param("one month", understood(4), id="one month is 4 weeks"),
    pytest.param("3 months", understood(12), id="3 months is 12 weeks"),
    pytest.param("half a month", understood(2), id="half a month is 2 weeks"),
    pytest.param("10 days", understood(1.43), id="10 days is 1.43 weeks"),
    pytest.param("3 days", understood(0.43), id="3 days is 0.43 weeks"),
    pytest.param("4", understood(4), id="a bare number is weeks"),
    pytest.param("4 weeks notice", understood(4), id="words after the unit are ignored"),
    pytest.param("immediately", understood(0), id="immediately is no notice"),
    pytest.param("none", understood(0), id="none is no notice"),
    pytest.param("no notice", understood(0), id="no notice is zero weeks"),
    pytest.param("available now", understood(0), id="available now is zero weeks"),
    pytest.param("ASAP", understood(0), id="asap is zero weeks"),
    pytest.param("dunno", not_understood("no weeks in 'dunno'"), id="dunno is not a notice"),
]

TEXT_CASES = [
    pytest.param("  Tuesday after 3pm  ", understood("Tuesday after 3pm"), id="text is trimmed"),
    pytest.param("x" * 1500, understood("x" * MAX_TEXT), id="long text keeps the first 1000"),
    pytest.param(" \n\t ", not_understood("the answer is empty"), id="blank text is not an answer"),
]


@pytest.mark.parametrize(("text", "expected"), YES_NO_CASES)
def test_yes_no_answers(text: str, expected: Parsed) -> None:
    assert parse_answer(text, "yes_no") == expected


@pytest.mark.parametrize(("text", "expected"), NUMBER_CASES)
def test_number_answers(text: str, expected: Parsed) -> None:
    assert parse_answer(text, "number") == expected


@pytest.mark.parametrize(("text", "expected"), YEARS_CASES)
def test_years_of_experience_answers(text: str, expected: Parsed) -> None:
    assert parse_answer(text, "years") == expected


@pytest.mark.parametrize(("text", "expected"), WEEKS_CASES)
def test_notice_period_answers_in_weeks(text: str, expected: Parsed) -> None:
    assert parse_answer(text, "weeks") == expected


@pytest.mark.parametrize(("text", "expected"), TEXT_CASES)
def test_text_answers(text: str, expected: Parsed) -> None:
    assert parse_answer(text, "text") == expected


def test_whole_numbers_come_back_as_ints_and_fractions_as_floats() -> None:
    assert type(parse_answer("50k", "number").value) is int
    assert type(parse_answer("2 years", "years").value) is int
    assert type(parse_answer("18 months", "years").value) is float


def test_an_unknown_expectation_is_not_understood() -> None:
    assert parse_answer("yes", "colour") == not_understood("unknown expectation 'colour'")  # type: ignore[arg-type]


def test_a_reply_that_is_not_text_is_not_understood() -> None:
    assert parse_answer(None, "yes_no") == not_understood("the answer is not text")  # type: ignore[arg-type]


def test_a_long_reason_quotes_only_the_start_of_the_reply() -> None:
    reply = "I would rather talk about this with a person first"
    assert parse_answer(reply, "yes_no").why == (
        "no yes/no in 'I would rather talk about this with a p…'"
    )


def test_huge_replies_are_read_in_bounded_time() -> None:
    replies = ["one " * 200_000, "9" * 1_000_000, "a couple " * 100_000, "👍" * 100_000]
    started = time.perf_counter()
    for reply in replies:
        for expect in EXPECTATIONS:
            parse_answer(reply, expect)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 5


@settings(max_examples=300)
@given(text=st.text(max_size=300), expect=st.sampled_from(EXPECTATIONS))
def test_parse_answer_never_raises(text: str, expect: str) -> None:
    parsed = parse_answer(text, expect)  # type: ignore[arg-type]
    assert isinstance(parsed, Parsed)
    assert parsed.ok is (parsed.value is not None)
    assert parsed.ok or parsed.why


@settings(max_examples=300)
@given(
    text=st.text(
        alphabet=st.sampled_from(list("0123456789 .,-+kmyearsmonthweekdaysno twenty half a")),
        max_size=60,
    ),
    expect=st.sampled_from(["number", "years", "weeks"]),
)
def test_number_like_replies_never_raise_and_give_finite_numbers(text: str, expect: str) -> None:
    parsed = parse_answer(text, expect)  # type: ignore[arg-type]
    if parsed.ok:
        assert isinstance(parsed.value, int | float)
        assert not isinstance(parsed.value, bool)
        assert parsed.value >= 0
        assert parsed.value == parsed.value  # not NaN


@settings(max_examples=300)
@given(text=st.text(max_size=1500))
def test_text_round_trips_the_trimmed_reply(text: str) -> None:
    parsed = parse_answer(text, "text")
    if text.strip():
        assert parsed == Parsed(True, text.strip()[:MAX_TEXT])
    else:
        assert parsed == not_understood("the answer is empty")


@settings(max_examples=200)
@given(word=st.sampled_from(["yes", "yep", "yeah", "sure", "no", "nope", "nah", "never"]))
def test_case_and_punctuation_do_not_change_a_yes_or_no(word: str) -> None:
    expected = parse_answer(word, "yes_no")
    for variant in (word.upper(), word.title(), f"{word}!", f" {word}. ", f"{word}?!"):
        assert parse_answer(variant, "yes_no") == expected
