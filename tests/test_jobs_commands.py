"""list-jobs, list-uploads and abort-uploads through the CLI against the local server."""

from __future__ import annotations

import json
from pathlib import Path

from restore_support import VAULT, run_cli, seed_vault, server_store

from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.metadata import encode_mt2


def test_list_jobs_formats_name_the_journal_file(tmp_path: Path) -> None:
    with running_server(config=ServerConfig(bulk_delay=3600)) as server:
        journal = tmp_path / "journal"
        archives = seed_vault(server, journal, {"photos/cat.jpg": b"meow" * 50})
        assert run_cli(server, "restore", "--dir", tmp_path / "r", "--vault", VAULT,
                       "--journal", journal, "--max-number-of-files", "1",
                       "--tier", "Bulk").code == 0
        server.control.take_inventory(VAULT)
        assert run_cli(server, "retrieve-inventory", "--vault", VAULT).code == 0

        as_json = run_cli(server, "list-jobs", "--vault", VAULT, "--journal", journal,
                          "--format", "json")
        assert as_json.code == 0, as_json.err
        jobs = json.loads(as_json.out.rsplit("OK DONE", 1)[0])["JobList"]
        retrieval = next(j for j in jobs if j["Action"] == "ArchiveRetrieval")
        assert retrieval["FileName"] == "photos/cat.jpg"
        assert retrieval["ArchiveId"] == archives["photos/cat.jpg"].archive_id
        assert (retrieval["StatusCode"], retrieval["Tier"]) == ("InProgress", "Bulk")
        assert retrieval["CompletionDate"] is None
        inventory = next(j for j in jobs if j["Action"] == "InventoryRetrieval")
        assert inventory["StatusCode"] == "Succeeded" and inventory["CompletionDate"]

        mtmsg = run_cli(server, "list-jobs", "--vault", VAULT, "--journal", journal,
                        "--format", "mtmsg")
        assert (f"MTMSG\tJOB_LIST\t{retrieval['JobId']}\tFileName\tphotos/cat.jpg"
                in mtmsg.out.splitlines())
        assert "MTMSG\tJOBS_SUMMARY\ttotal_number_of_jobs\t2" in mtmsg.out

        human = run_cli(server, "list-jobs", "--vault", VAULT, "--journal", journal)
        assert "ArchiveRetrieval InProgress (tier Bulk): photos/cat.jpg" in human.out
        assert "completed: not yet" in human.out
        assert "Total: 2 job(s)" in human.out


def test_list_and_abort_uploads(local_server: LocalServer) -> None:
    with server_store(local_server) as store:
        store.create_vault(VAULT)
        keep = store.initiate_multipart_upload(VAULT, 1 << 20, encode_mt2("keep/me.txt", 1))
        drop = store.initiate_multipart_upload(VAULT, 1 << 20, encode_mt2("drop.tmp", 1))

    listed = run_cli(local_server, "list-uploads", "--vault", VAULT)
    assert listed.code == 0, listed.err
    assert f"Upload {keep}: keep/me.txt" in listed.out
    assert "Total: 2 unfinished upload(s)" in listed.out

    dry = run_cli(local_server, "abort-uploads", "--vault", VAULT, "--dry-run")
    assert dry.out.count("Will ABORT upload") == 2
    assert "AbortMultipartUpload" not in local_server.control.stats()["requests"]

    aborted = run_cli(local_server, "abort-uploads", "--vault", VAULT, "--exclude", "keep/**")
    assert aborted.code == 0, aborted.err
    assert f"Aborted upload {drop} (filename drop.tmp)" in aborted.out
    with server_store(local_server) as store:
        assert [u.upload_id for u in store.list_multipart_uploads(VAULT)] == [keep]

    as_json = run_cli(local_server, "list-uploads", "--vault", VAULT, "--format", "json")
    uploads = json.loads(as_json.out.rsplit("OK DONE", 1)[0])["UploadsList"]
    assert [u["FileName"] for u in uploads] == ["keep/me.txt"]


def test_sns_topic_and_inventory_marker_reach_the_jobs(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:restores"
    journal = tmp_path / "journal"
    seed_vault(local_server, journal, {"f": b"x"})
    assert run_cli(local_server, "restore", "--dir", tmp_path / "r", "--vault", VAULT,
                   "--journal", journal, "--max-number-of-files", "1",
                   "--sns-topic", topic).code == 0
    local_server.control.take_inventory(VAULT)
    assert run_cli(local_server, "retrieve-inventory", "--vault", VAULT, "--sns-topic", topic,
                   "--request-inventory-format", "csv").code == 0
    with server_store(local_server) as store:
        jobs = {j.action: j for j in store.list_jobs(VAULT)}
    assert jobs["ArchiveRetrieval"].sns_topic == topic
    assert jobs["InventoryRetrieval"].sns_topic == topic
    assert jobs["InventoryRetrieval"].description == "mtijob1 eyJ0eXBlIjoiZnVsbCJ9"
    assert (jobs["InventoryRetrieval"].inventory_format or "").upper() == "CSV"
