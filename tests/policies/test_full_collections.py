"""Full garbage collections held off while a batch runs, and back as they were after it."""

import gc
import threading

import pytest

from policies.ingest import full_collections_deferred


@pytest.fixture(autouse=True)
def usual_threshold():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_a_batch_holds_off_full_collections_only_and_restores_them():
    with full_collections_deferred():
        young, middle, full = gc.get_threshold()
        assert (young, middle) == (700, 10) and full >= 1_000_000
    assert gc.get_threshold() == (700, 10, 10)


def test_a_batch_that_fails_restores_them():
    with pytest.raises(RuntimeError), full_collections_deferred():
        raise RuntimeError("the batch failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_batch_inside_another_leaves_them_held_off_until_the_outer_one_ends():
    with full_collections_deferred():
        with full_collections_deferred():
            pass
        assert gc.get_threshold()[2] >= 1_000_000
    assert gc.get_threshold() == (700, 10, 10)


def test_batches_of_two_threads_restore_them_when_the_last_ends_whichever_it_is():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with full_collections_deferred():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with full_collections_deferred():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.get_threshold()[2]

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["after the first ended"] >= 1_000_000
    assert gc.get_threshold() == (700, 10, 10)
