"""A local Runway API simulator (aiohttp.web) speaking the same protocol, strictly.

Use it in-process (``async with RunwaySimulator(options) as sim``) or from the command
line (``runway-bot simulate``, served by ``serve``). Tasks are timed on a simulated clock
(``tasks``), bodies are validated like Runway does (``validation``), assets may be data
URIs, HTTPS or loopback URLs, or ``runway://`` uploads (``assets``), outputs are real H.264
clips (``clipmaker``) served at signed URLs that expire (``outputs``), and CometAPI's
envelope is written by ``wire``.

Faults are scripted with ``add_fault`` / ``POST /_sim/faults`` (``gate``, ``control``) or
per task by directives anywhere in ``promptText`` (stripped before "processing"; the
prompt length limit counts them):

- ``[sim:fail=CODE]``: the task ends FAILED with ``failureCode`` CODE after its run.
- ``[sim:throttle=N]``: THROTTLED for N simulated seconds before it may start.
- ``[sim:seconds=N]``: the task RUNS N simulated seconds.
- ``[sim:big=MB]``: the output is padded to at least MB MiB (still a playable MP4).
- ``[sim:cancel]``: the task ends CANCELLED on its own after its run.

Gateway dialects (CometAPI behaves like the open-source new-api gateway; ``dialects``).
Only ``create`` also applies with ``provider="runway"``; the others need "cometapi":

- ``[sim:create=SHAPE]``: the body of the 200 create answer (the task is created either
  way): ``id`` ``{"id": T}`` (the default); ``id_cost`` ``{"id": T, "estimatedCost":
  {"credits": N}}``; ``task_id`` ``{"task_id": T}``; ``openai_video`` ``{"id": T,
  "task_id": T, "object": "video", "model": M, "status": "queued", "progress": 0,
  "created_at": UNIX}``; ``envelope_str`` ``{"code": "success", "message": "", "data":
  T}``; ``envelope_obj`` the same with ``"data": {"task_id": T, "status":
  "SUBMITTED"}``; ``empty`` ``{}`` (billed and running; find it in ``created_ids``).
- ``[sim:inner=null]``: the wrapped GET's ``data.data`` is null (only the outer TaskDto).
  ``[sim:inner=stale]``: ``data.data`` stays the first raw task the gateway saw (PENDING,
  no progress, no output) while the outer status and progress move on.
- ``[sim:url=WHERE]``: where a SUCCESS shows the clip URL: ``output`` (the inner
  ``output``, the default); ``result_url`` (outer ``result_url`` only); ``fail_reason``
  (outer ``fail_reason``, as older gateways did; no ``result_url``); ``gateway`` (outer
  ``result_url`` is ``{base_url}/v1/videos/{id}/content``, which serves the clip only
  with the API's Bearer key, else 401; counted in ``content_requests``). Except for
  ``output`` the inner task has no ``output``. With ``inner=null``/``stale`` and the
  default ``output`` place the URL appears nowhere.
- ``[sim:flicker=N]``: once the task has been answered normally, its next N GETs answer
  ``task_not_exist`` (HTTP 400), then it is visible again (``[sim:flicker]``: N = 1).
- ``[sim:sweep]``: the gateway's timeout sweep: after its run the task ends as outer
  ``FAILURE`` with ``fail_reason`` "task timeout", no failureCode and no cost anywhere;
  the inner task stays the last unfinished one answered (RUNNING or PENDING). No clip.
  (With "runway" the raw task ends FAILED with that text and no failureCode.)

Gateway error answers are ready-made faults in ``dialects`` (``no_channel_503``,
``html_503``, ``runway_503``, ``fail_to_fetch``, ``insufficient_quota_403``,
``invalid_key_401``, ``final_429``, ``runway_daily_limit_429``,
``delete_not_routed_404``). With ``delete_routed=False`` (cometapi) every DELETE of a
task answers the gateway's 404 "Invalid URL" and the task runs on.

Realistic mode (``SimulatorOptions.realism``, off by default): each task's pending and run
time, failure and progress curve are drawn from a seeded :class:`~bot.simulator.tasks.Realism`
(see ``tasks``). ``record_tasks`` keeps, per task, every GET's simulated time and answered
status and the moment it became terminal (``observed``), for benchmarks that measure a
client from the server's side. ``reuse_clips`` renders one clip per endpoint, ratio,
duration and inputs (whatever the seed and prompt) and hands it to every task asking for
the same: many tasks, little CPU. ``request_counts`` counts every request by method and route.

``created_ids`` (and ``state()["created_ids"]``) lists the tasks created, oldest first (the
newest ``request_log_limit``), refused creates not included.

A task whose input cannot be decoded ends FAILED with ``ASSET.INVALID``.

A task's clip starts rendering when the task is created (one render at a time, off the
event loop). A GET never waits for it: a task whose run is over but whose clip is not
ready yet still reports RUNNING (progress 0.99), and SUCCEEDED with output URLs once the
clip exists. Tests that move the clock with ``advance()`` can ``await
sim.wait_rendered(task_id)`` before expecting SUCCEEDED.

Finished tasks are forgotten ``retention_seconds`` (simulated) after they finished, like
Runway forgetting old tasks: GET and DELETE then answer 404 (``task_not_exist`` through
CometAPI) and output URLs 404. Uploads expire after ``upload_ttl_seconds``, and
``request_log`` keeps only the newest ``request_log_limit`` entries.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

from ..catalog import Endpoint, ModelSpec, default_catalog
from ..runway.models import TaskStatus
from . import clipmaker
from .assets import UploadStore, resolve_asset, upload_routes
from .control import control_routes
from .dialects import (
    create_body,
    gateway_content_path,
    invalid_url_body,
    new_api_error,
    reshape_task_dto,
)
from .gate import Fault, check_headers, fault_response, take_fault
from .outputs import OutputSigner
from .tasks import Realism, SimClock, SimTask, TaskBoard, parse_directives
from .validation import Issue, RequestInvalid, ValidRequest, validate_create
from .wire import COMET_STATUS, comet_task_not_exist, comet_wrap, task_body

__all__ = ["Fault", "Observed", "Realism", "RunwaySimulator", "SimulatorOptions"]

log = logging.getLogger(__name__)


@dataclass
class SimulatorOptions:
    """How the simulator behaves. Times are simulated seconds unless said otherwise."""

    provider: Literal["runway", "cometapi"] = "runway"
    api_key: str | None = None
    models: tuple[ModelSpec, ...] = field(default_factory=default_catalog)
    task_seconds: float = 20.0
    pending_seconds: float = 1.0
    time_scale: float = 1.0
    concurrency: int | dict[str, int] = 2
    task_not_exist_seconds: float = 3.0
    url_ttl_seconds: float = 3600.0
    retention_seconds: float = 48 * 3600.0
    upload_ttl_seconds: float = 24 * 3600.0
    request_log_limit: int = 20_000
    # cometapi only: False answers every DELETE /v1/tasks/{id} with the gateway's 404
    # "Invalid URL" and leaves the task alone (new-api does not route DELETE).
    delete_routed: bool = True
    realism: Realism | None = None
    record_tasks: bool = False
    reuse_clips: bool = False


@dataclass
class Observed:
    """What ``record_tasks`` keeps about one task: its GETs and when it became terminal."""

    model: str
    created: float
    failure: str | None  # the realistic plan's "early" / "partway", else None
    gets: list[tuple[float, str]] = field(default_factory=list)  # (sim time, status)
    terminal_at: float | None = None  # when the status first seen terminal became so
    final: str | None = None


@dataclass(eq=False)
class _Job:
    """What the simulator keeps beside a board task (not the inputs: they can be large)."""

    task: SimTask
    endpoint: Endpoint
    estimated: float
    clip: asyncio.Task[bytes] | None = None
    rendered_at: float | None = None  # simulated time the render ended, ok or not
    first_inner: dict[str, Any] = field(default_factory=dict)  # the PENDING raw task
    last_inner: dict[str, Any] | None = None  # the last unfinished raw task answered
    answered: bool = False  # a GET has answered it normally (for [sim:flicker])
    flicker_left: int = 0


def _observe(clip: asyncio.Task[bytes]) -> None:
    """Mark a render's failure as seen; it is reported through the task's status."""
    if not clip.cancelled() and clip.exception() is not None:
        log.debug("clip render failed: %s", clip.exception())


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class RunwaySimulator:
    """The simulator server; see the module docstring."""

    def __init__(self, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        self.catalog: dict[str, ModelSpec] = {m.id: m for m in self.options.models}
        self.clock = SimClock(self.options.time_scale)
        self.board = TaskBoard(self.options.concurrency, self.options.pending_seconds)
        self.uploads = UploadStore(ttl_seconds=self.options.upload_ttl_seconds, now=self.clock.now)
        self.faults: list[Fault] = []
        self.created_count = 0
        self.request_log: list[tuple[str, str]] = []
        self.created_ids: list[str] = []  # oldest first, at most request_log_limit kept
        # GETs of the gateway's /v1/videos/{id}/content: with the API key, and refused.
        self.content_requests: dict[str, int] = {"with_key": 0, "without_key": 0}
        self.base_url = ""
        self._jobs: dict[str, _Job] = {}
        self.outputs = OutputSigner()
        self._encode_slots = asyncio.Semaphore(1)
        self._sleepers: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._credit_balance = 100_000.0
        self._spent_forgotten = 0  # credits of succeeded tasks deleted or evicted
        self._last_sweep = 0.0
        self._per_model: Counter[str] = Counter()
        self._clip_cache: dict[str, asyncio.Future[bytes]] = {}
        self.observed: dict[str, Observed] = {}
        self.request_counts: Counter[str] = Counter()
        self.app = self._make_app()

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); returns the base URL."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving and drop pending clip renders."""
        for job in self._jobs.values():
            if job.clip is not None and not job.clip.done():
                job.clip.cancel()
        for sleeper in list(self._sleepers):
            sleeper.cancel()
        for shared in self._clip_cache.values():
            shared.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RunwaySimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- test controls ---------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        """Script a fault for the next matching request(s)."""
        self.faults.append(fault)

    def advance(self, seconds: float) -> None:
        """Move the simulated clock forward (evicting tasks whose retention is over)."""
        self.clock.advance(seconds)
        self._sweep()

    async def wait_rendered(self, task_id: str | None = None) -> None:
        """Wait until the clip of ``task_id`` (of every task if None) has rendered or failed.

        Unknown task ids and tasks without a clip (failing or cancelling directives)
        return at once. After it, a task whose run is over reports its final status.
        """
        jobs = list(self._jobs.values()) if task_id is None else [self._jobs.get(task_id)]
        clips = [j.clip for j in jobs if j is not None and j.clip is not None]
        pending = [c for c in clips if not c.done()]
        if pending:
            await asyncio.wait(pending)

    @property
    def task_count(self) -> int:
        """How many tasks the simulator still remembers (not yet deleted or evicted)."""
        return len(self._jobs)

    def expire_outputs(self) -> None:
        """Every output URL issued so far now answers 403."""
        self.outputs.revoke_all()

    def task_status(self, task_id: str) -> str | None:
        """The status a GET of the task would report now (None if unknown, deleted, evicted)."""
        job = self._lookup(task_id)
        if job is None:
            return None
        return str(self._status(job))

    # ---- plumbing --------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=300 * 1024 * 1024)
        app.router.add_post("/v1/image_to_video", self._create_i2v)
        app.router.add_post("/v1/video_to_video", self._create_v2v)
        app.router.add_get("/v1/tasks/{id}", self._get_task)
        app.router.add_delete("/v1/tasks/{id}", self._delete_task)
        app.router.add_get("/v1/organization", self._organization)
        app.router.add_get("/_outputs/{name}", self._output)
        if self.options.provider == "cometapi":
            app.router.add_get(gateway_content_path("{id}"), self._gateway_content)
        app.router.add_routes(upload_routes(self.uploads))
        app.router.add_routes(control_routes(self))
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self._sweep()
        if request.path.startswith("/_sim/"):
            resp: web.StreamResponse = await handler(request)
            return resp
        self._log_request(request.method, request.path)
        self.request_counts[_route(request.method, request.path)] += 1
        fault = take_fault(self.faults, request.method, request.path)
        if fault is not None:
            if fault.delay > 0:
                await self._sleep(fault.delay)
            if fault.drop_connection:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            if fault.status >= 300 or fault.body is not None:
                return fault_response(fault)
        if request.path.startswith("/v1/") and not self._is_content_route(request.path):
            refused = check_headers(
                request.headers, request.method, self.options.provider, self.options.api_key
            )
            if refused is not None:
                return _json(*refused)
        try:
            resp = await handler(request)
        except web.HTTPNotFound:
            return _json(404, {"error": "Not found"})
        except web.HTTPMethodNotAllowed:
            return _json(405, {"error": "Method not allowed"})
        return resp

    def _is_content_route(self, path: str) -> bool:
        """The gateway's clip route checks its key itself (to count refusals)."""
        return self.options.provider == "cometapi" and path.startswith("/v1/videos/")

    def _log_request(self, method: str, path: str) -> None:
        self._append_bounded(self.request_log, (method, path))

    def _append_bounded(self, log_: list[Any], item: Any) -> None:
        log_.append(item)
        limit = max(1, self.options.request_log_limit)
        if len(log_) > limit:  # drop the oldest quarter at once: amortised O(1)
            del log_[: len(log_) - limit + limit // 4]

    async def _sleep(self, seconds: float) -> None:
        """A fault's delay; cut short when the simulator stops."""
        me = asyncio.current_task()
        if me is not None:
            self._sleepers.add(me)
        try:
            await asyncio.sleep(seconds)
        finally:
            if me is not None:
                self._sleepers.discard(me)

    # ---- create ----------------------------------------------------------------------

    async def _create_i2v(self, request: web.Request) -> web.Response:
        return await self._create(request, Endpoint.IMAGE_TO_VIDEO)

    async def _create_v2v(self, request: web.Request) -> web.Response:
        return await self._create(request, Endpoint.VIDEO_TO_VIDEO)

    async def _create(self, request: web.Request, endpoint: Endpoint) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _json(400, {"error": "Invalid JSON body", "issues": []})
        try:
            valid = validate_create(endpoint, body, self.catalog)
            assets = await self._resolve(valid)
            input_seconds = await self._input_seconds(valid, assets)
        except RequestInvalid as exc:
            return _json(400, exc.to_wire())
        directives, clean_prompt = parse_directives(valid.prompt_text)
        task_id = str(uuid.uuid4())
        model = valid.spec.id
        plan = None
        if self.options.realism is not None:
            plan = self.options.realism.plan(model, self._per_model[model])
            self._per_model[model] += 1
        task = self.board.add(
            task_id, model, self.clock.now(), self.options.task_seconds, directives, plan
        )
        if self.options.record_tasks:
            failure = plan.failure if plan is not None else None
            self.observed[task_id] = Observed(model, task.created, failure)
        job = _Job(task, endpoint, self._estimate(valid, input_seconds))
        created_wall = self.clock.wall(task.created)
        job.first_inner = task_body(
            task,
            TaskStatus.PENDING,
            created_wall=created_wall,
            estimated=job.estimated,
            progress=0.0,
            output_url=None,
        )
        job.flicker_left = directives.flicker
        fails = directives.fail_code or (plan is not None and plan.fail_code is not None)
        if not fails and not directives.cancel and not directives.sweep:
            job.clip = asyncio.create_task(
                self._render(job, valid, assets, clean_prompt, input_seconds)
            )
            job.clip.add_done_callback(_observe)
        self._jobs[task_id] = job
        self.created_count += 1
        self._append_bounded(self.created_ids, task_id)
        answer = create_body(
            directives.create_shape,
            task_id,
            model=valid.spec.id,
            estimated=job.estimated,
            created_wall=created_wall,
        )
        return _json(200, answer)

    async def _resolve(self, valid: ValidRequest) -> dict[str, bytes]:
        assert self._session is not None
        out: dict[str, bytes] = {}
        for ref in valid.assets:
            out[ref.role] = await resolve_asset(ref, self.uploads, self._session)
        return out

    async def _input_seconds(self, valid: ValidRequest, assets: dict[str, bytes]) -> float | None:
        if valid.endpoint is not Endpoint.VIDEO_TO_VIDEO:
            return None
        try:
            seconds = await asyncio.to_thread(clipmaker.probe_seconds, assets["video"])
        except clipmaker.ClipError as exc:
            raise RequestInvalid([Issue(("videoUri",), f"Invalid asset: {exc.message}")]) from None
        limit = valid.spec.max_input_seconds
        if limit is not None and seconds > limit + 0.05:
            raise RequestInvalid(
                [Issue(("videoUri",), f"Asset duration must be at most {limit:g} seconds")]
            )
        return seconds

    def _estimate(self, valid: ValidRequest, input_seconds: float | None) -> float:
        spec = valid.spec
        if valid.endpoint is Endpoint.IMAGE_TO_VIDEO:
            rate = spec.audio_credits_per_second if valid.audio else None
            return (rate or spec.credits_per_second) * float(valid.duration or 0)
        seconds = input_seconds or 0.0
        if spec.billed_input_seconds is not None:
            seconds = min(seconds, spec.billed_input_seconds)
        return spec.credits_per_second * round(seconds)

    async def _render(
        self,
        job: _Job,
        valid: ValidRequest,
        assets: dict[str, bytes],
        prompt: str,
        input_seconds: float | None,
    ) -> bytes:
        try:
            if not self.options.reuse_clips:
                return await self._encode(valid, assets, prompt)
            key = _clip_key(valid, assets)
            shared = self._clip_cache.get(key)
            if shared is None:
                shared = asyncio.ensure_future(self._encode(valid, assets, prompt))
                self._clip_cache[key] = shared
            return await asyncio.shield(shared)
        finally:
            job.rendered_at = self.clock.now()

    async def _encode(self, valid: ValidRequest, assets: dict[str, bytes], prompt: str) -> bytes:
        async with self._encode_slots:
            if valid.endpoint is Endpoint.IMAGE_TO_VIDEO:
                assert valid.ratio is not None and valid.duration is not None
                return await asyncio.to_thread(
                    lambda: clipmaker.image_to_video_clip(
                        assets["first"],
                        ratio=valid.ratio or "",
                        duration=float(valid.duration or 1),
                        seed=valid.seed or 0,
                        last_image=assets.get("last"),
                    )
                )
            limit = valid.spec.billed_input_seconds or valid.spec.max_input_seconds
            return await asyncio.to_thread(
                lambda: clipmaker.video_to_video_clip(
                    assets["video"], prompt=prompt, max_seconds=limit
                )
            )

    # ---- tasks -----------------------------------------------------------------------

    def _status(self, job: _Job) -> TaskStatus:
        """What a GET reports: RUNNING until the clip of a run that is over exists."""
        status = self.board.status(job.task, self.clock.now())
        if status is TaskStatus.SUCCEEDED and job.clip is not None:
            if not job.clip.done() or job.clip.cancelled():
                return TaskStatus.RUNNING
            exc = job.clip.exception()
            if exc is not None:
                self._fail_asset(job, exc)
                status = TaskStatus.FAILED
        return status

    def _finished_at(self, job: _Job, status: TaskStatus) -> float | None:
        """The simulated time the reported status became terminal (None while it is not)."""
        if not status.terminal:
            return None
        finished = job.task.finished if job.task.finished is not None else 0.0
        if status is TaskStatus.CANCELLED or job.rendered_at is None:
            return finished
        return max(finished, job.rendered_at)

    def _lookup(self, task_id: str) -> _Job | None:
        """The job of a task, None if unknown, deleted or past its retention."""
        job = self._jobs.get(task_id)
        if job is not None and self._expired(job, self.clock.now()):
            self._forget(task_id, job)
            return None
        return job

    def _expired(self, job: _Job, now: float) -> bool:
        done = self._finished_at(job, self._status(job))
        return done is not None and now >= done + self.options.retention_seconds

    def _forget(self, task_id: str, job: _Job) -> None:
        """Drop a task and everything kept for it (its clip with it)."""
        if self._status(job) is TaskStatus.SUCCEEDED:
            self._spent_forgotten += round(job.estimated)
        if job.clip is not None and not job.clip.done():
            job.clip.cancel()
        del self._jobs[task_id]
        self.board.remove(task_id)

    def _sweep(self, *, force: bool = False) -> None:
        """Evict tasks past their retention and expired uploads (at most every 1/8 of it)."""
        now = self.clock.now()
        if not force and now - self._last_sweep < self.options.retention_seconds / 8:
            return
        self._last_sweep = now
        for task_id, job in list(self._jobs.items()):
            if self._expired(job, now):
                self._forget(task_id, job)
        self.uploads.sweep()

    def _fail_asset(self, job: _Job, exc: BaseException) -> None:
        job.task.final = TaskStatus.FAILED
        job.task.failure_code = "ASSET.INVALID"
        reason = exc.message if isinstance(exc, clipmaker.ClipError) else "processing error"
        job.task.failure = f"The input could not be processed: {reason}."

    def _task_body(self, job: _Job, status: TaskStatus, request: web.Request) -> dict[str, Any]:
        now = self.clock.now()
        url = None
        if status is TaskStatus.SUCCEEDED:
            origin = f"{request.scheme}://{request.host}"
            url = self.outputs.issue(origin, job.task.id, now + self.options.url_ttl_seconds)
        return task_body(
            job.task,
            status,
            created_wall=self.clock.wall(job.task.created),
            estimated=job.estimated,
            progress=self.board.progress(job.task, now),
            output_url=url,
        )

    async def _get_task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["id"]
        job = self._lookup(task_id)
        comet = self.options.provider == "cometapi"
        hidden = job is not None and (
            self.clock.now() - job.task.created < self.options.task_not_exist_seconds
        )
        if comet and (job is None or hidden):
            return _json(400, comet_task_not_exist())
        if job is None:
            return _json(404, {"error": "Task not found"})
        if comet and job.answered and job.flicker_left > 0:
            job.flicker_left -= 1
            return _json(400, comet_task_not_exist())
        status = self._status(job)
        self._note_get(task_id, job, status)
        raw = self._task_body(job, status, request)
        if not comet:
            return _json(200, raw)
        if not status.terminal:
            job.last_inner = raw
        job.answered = True
        task = job.task
        finished = self._finished_at(job, status)
        wall = {
            "submit": self.clock.wall(task.created),
            "start": None if task.started is None else self.clock.wall(task.started),
            "finish": None if finished is None else self.clock.wall(finished),
        }
        action = job.endpoint.value.upper()
        wrapped = comet_wrap(task, raw, action=action, wall=wall)
        origin = self.base_url or f"{request.scheme}://{request.host}"
        reshape_task_dto(
            wrapped["data"],
            task.directives,
            first_inner=job.first_inner,
            last_inner=job.last_inner,
            gateway_url=origin + gateway_content_path(task_id),
        )
        return _json(200, wrapped)

    def _note_get(self, task_id: str, job: _Job, status: TaskStatus) -> None:
        seen = self.observed.get(task_id)
        if seen is None:
            return
        seen.gets.append((self.clock.now(), status.value))
        if status.terminal and seen.terminal_at is None:
            seen.terminal_at = self._finished_at(job, status)
            seen.final = status.value

    async def _delete_task(self, request: web.Request) -> web.Response:
        task_id = request.match_info["id"]
        if self.options.provider == "cometapi" and not self.options.delete_routed:
            return _json(404, invalid_url_body("DELETE", request.path))
        job = self._lookup(task_id)
        if job is None:
            return _json(404, {"error": "Task not found"})
        if self._status(job).terminal:
            self._forget(task_id, job)
        else:
            self.board.cancel(job.task, self.clock.now())
            if job.clip is not None:
                job.clip.cancel()
        return web.Response(status=204)

    # ---- outputs ---------------------------------------------------------------------

    async def _output(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        refused = self.outputs.check(name, request.query, self.clock.now())
        if refused is not None:
            return web.Response(status=403, text=f"AccessDenied: {refused}")
        job = self._lookup(name.removesuffix(".mp4"))
        clip = job.clip if job is not None else None
        if job is None or clip is None or not clip.done() or clip.cancelled() or clip.exception():
            return web.Response(status=404, text="NoSuchKey")
        return self._clip_response(job, clip)

    def _clip_response(self, job: _Job, clip: asyncio.Task[bytes]) -> web.Response:
        data = clipmaker.pad_to(clip.result(), int(job.task.directives.big_mb * 1024 * 1024))
        return web.Response(body=data, content_type="video/mp4")

    async def _gateway_content(self, request: web.Request) -> web.Response:
        """The gateway's own clip route: the task's clip, with the API's Bearer key only."""
        refused = check_headers(request.headers, "GET", "cometapi", self.options.api_key)
        if refused is not None:
            self.content_requests["without_key"] += 1
            return _json(401, new_api_error("invalid token"))
        self.content_requests["with_key"] += 1
        job = self._lookup(request.match_info["id"])
        if job is None:
            return _json(404, new_api_error("task not found", "invalid_request_error"))
        status = self._status(job)
        clip = job.clip
        if status is not TaskStatus.SUCCEEDED or clip is None:
            shown = COMET_STATUS[status]
            message = f"task is not completed yet, current status: {shown}"
            return _json(400, new_api_error(message, "invalid_request_error"))
        return self._clip_response(job, clip)

    # ---- organization and state --------------------------------------------------------

    async def _organization(self, request: web.Request) -> web.Response:
        if self.options.provider == "cometapi":
            return _json(404, {"code": "not_found", "message": "not available", "data": None})
        spent = self._spent_forgotten + sum(
            round(j.estimated)
            for j in self._jobs.values()
            if self._status(j) is TaskStatus.SUCCEEDED
        )
        tier = {
            m: {"maxConcurrentGenerations": self.board.limit(m), "maxDailyGenerations": 1000}
            for m in self.catalog
        }
        usage: dict[str, dict[str, int]] = {m: {"dailyGenerations": 0} for m in self.catalog}
        day_start = self.clock.now() - 86400.0
        for job in self._jobs.values():
            if job.task.created > day_start:
                usage[job.task.model]["dailyGenerations"] += 1
        return _json(
            200,
            {
                "creditBalance": int(self._credit_balance - spent),
                "tier": {"maxMonthlyCreditSpend": 1_000_000, "models": tier},
                "usage": {"models": usage},
            },
        )

    def state(self) -> dict[str, Any]:
        """What ``GET /_sim/state`` answers: created count and ids, task statuses, request
        log, and the gateway clip route's request counts."""
        self._sweep(force=True)
        return {
            "created_count": self.created_count,
            "created_ids": list(self.created_ids),
            "content_requests": dict(self.content_requests),
            "tasks": {tid: str(self._status(job)) for tid, job in self._jobs.items()},
            "requests": [list(r) for r in self.request_log],
        }


def _route(method: str, path: str) -> str:
    """``GET /v1/tasks`` for ``GET /v1/tasks/<id>``: a request's kind, for counting."""
    parts = path.split("/")
    return f"{method} {'/'.join(parts[: 3 if parts[1:2] == ['v1'] else 2])}"


def _clip_key(valid: ValidRequest, assets: dict[str, bytes]) -> str:
    """Requests with this key get the same clip (``reuse_clips``): same endpoint, ratio,
    duration and input files, whatever the seed and prompt."""
    digest = hashlib.sha256()
    for part in (valid.endpoint.value, valid.ratio, valid.duration):
        digest.update(repr(part).encode())
    for role in sorted(assets):
        digest.update(role.encode())
        digest.update(hashlib.sha256(assets[role]).digest())
    return digest.hexdigest()
