"""The benchmark's arithmetic: each page is compared with the ceiling phase just before it."""

from bench.run import PAGES, ceiling_key, figures


def _phase(kind: str, throughput: float, p95: float) -> dict:
    seconds = 4.0
    count = int(throughput * seconds)
    stats = {"count": count, "throughput": throughput, "p50": p95 / 2, "p95": p95}
    return {"kinds": {kind: stats}, "elapsed": seconds, "server_cpu": seconds * 1.5}


def _run(ceilings: dict[str, float], pages: dict[str, float]) -> dict:
    run = {
        ceiling_key(page): _phase("ceiling", ceilings[page], 32 / ceilings[page]) for page in PAGES
    }
    run.update({page: _phase(page, pages[page], 32 / pages[page]) for page in PAGES})
    mix = _phase("ceiling", 500.0, 0.1)
    mix.update(driver_cpu=1.0)
    run["mix"] = mix
    return run


def test_a_page_is_compared_with_the_ceiling_measured_just_before_it():
    # The host slows down halfway through each run: the ceiling before the course page is half
    # the one before the dashboard, and so is the course page.
    ceilings = {page: 2000.0 for page in PAGES} | {"course": 1000.0}
    pages = {page: 500.0 for page in PAGES} | {"course": 250.0}
    result = {"runs": [_run(ceilings, pages) for _ in range(3)]}

    shown = figures(result)

    assert shown["ceiling"]["throughput"] == 2000.0
    assert shown["dashboard"]["share"] == 0.25
    assert shown["course"]["share"] == 0.25
    assert shown["course"]["p95_ratio_alone"] == 4.0


def test_the_cores_in_use_leave_the_extra_ceiling_phases_out():
    ceilings = {page: 2000.0 for page in PAGES}
    pages = {page: 500.0 for page in PAGES}
    run = _run(ceilings, pages)
    for page in PAGES[1:]:
        run[ceiling_key(page)]["server_cpu"] = 100.0  # would show if they were counted

    machine = figures({"runs": [run]})["machine"]

    assert machine["server_cpu"] == 1.5
