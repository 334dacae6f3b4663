"""The campaign's own work in the demo: the register, the survey, the tasks, earlier years.

The work plan arrives on March 11 with its task list (Attachment 2): the task cases are
opened, each community's old-estate register is imported (every building, listed to
survey) and so are earlier years' rectified hazards (opened on the days they were closed).
Every building is surveyed on a day of the survey phase, a couple late and one struck off
the register; a building's hazards arrive the day it is surveyed. The units report their
tasks' progress on the 20th and report them done (one late, after the last building), and
the look-back of November looks again at earlier years' hazards as well as this year's.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from rectify.definitions._campaign import Campaign
from rectify.documents._campaign_reports import lookback_results, lookback_seed
from rectify.engine._case import Actor, Case
from rectify.spreadsheets._text import text_key

if TYPE_CHECKING:
    from rectify.cli._demo import _Simulation

__all__ = ["PLAN_DAY", "CampaignWork"]

#: The day the work plan was issued (its date in the seed): tasks and registers arrive.
PLAN_DAY: Final = dt.date(2024, 3, 11)
_OFFICE: Final = Actor("镇消安办", "town_office")
_LATE_BUILDINGS: Final = 2  # surveyed after the survey phase ended
_REMOVED: Final = "该楼栋已列入征收拆除范围，不再纳入老旧小区台账"
#: When each task is reported done, unless it waits on the survey (``None``).
_DONE: Final[Mapping[str, dt.date | None]] = {
    "survey_buildings": None,
    "survey_renovated": dt.date(2024, 4, 8),
    "name_staff": dt.date(2024, 4, 10),
    "rectify_hazards": dt.date(2024, 6, 28),
    "annual_plan": dt.date(2024, 6, 30),
    "canopies": dt.date(2024, 12, 20),
    "patrols": dt.date(2024, 12, 24),
}
_PROGRESS_DAY: Final = 20  # units report progress by the 20th, before the 22nd's reports

Key = tuple[str, str, str]
Row = tuple[str, str, Mapping[str, object]]


def building_key(data: Mapping[str, object]) -> Key:
    """Return what ties a hazard to its building: community, estate and building, compared."""
    return (
        text_key(str(data.get("community") or "")),
        text_key(str(data.get("community_name") or "")),
        text_key(str(data.get("building") or "")),
    )


class CampaignWork:
    """The register, survey, tasks and earlier years of one demo run."""

    def __init__(
        self,
        sim: _Simulation,
        *,
        register: Sequence[Row],
        earlier: Sequence[Row],
        hazards: Sequence[Row],
        scale: int,
    ) -> None:
        self.sim = sim
        self.register = list(register)
        self.earlier = list(earlier)
        self.found = Counter(building_key(data) for _, _, data in hazards)
        self.scale = scale
        self.survey_day: dict[str, dt.date] = {}
        self.by_key: dict[Key, str] = {building_key(d): i for i, _, d in self.register}
        self.removed: str | None = None
        self.done: set[str] = set()

    # -- planning ------------------------------------------------------------------------

    def plan(self, rng: random.Random, campaign: Campaign) -> None:
        """Choose each building's survey day: within the survey phase, a couple late."""
        phase = campaign.phase("survey")
        first = PLAN_DAY + dt.timedelta(days=1)
        span = (phase.ends - first).days
        ids = sorted(i for i, _, _ in self.register)
        late = set(rng.sample(ids, min(_LATE_BUILDINGS, len(ids))))
        quiet = [i for i, _, d in sorted(self.register) if not self.found[building_key(d)]]
        quiet = [i for i in quiet if i not in late]
        self.removed = rng.choice(quiet) if quiet else None
        for building in ids:
            if building in late:
                day = phase.ends + dt.timedelta(days=rng.randint(1, 9))
            else:
                day = first + dt.timedelta(days=rng.randint(0, span))
            self.survey_day[building] = day

    def arrival(self, data: Mapping[str, object]) -> dt.date | None:
        """Return the day a hazard is found: its building's survey day, if it is registered."""
        building = self.by_key.get(building_key(data))
        return None if building is None else self.survey_day.get(building)

    # -- the day's work ------------------------------------------------------------------

    def arrive(self, day: dt.date, at: dt.datetime) -> None:
        """On the plan's day: open the tasks, import the registers and earlier years."""
        if day != PLAN_DAY:
            return
        ledger = self.sim.ledger
        ledger.open_tasks(self.sim.campaign, _OFFICE, at=at)
        ledger.import_cases(self.register, Actor("摸排组", "community"), at=at)
        ledger.import_earlier(self.earlier, Actor("镇消安办", "community"))

    def survey(self, day: dt.date) -> None:
        """Survey the buildings due today (after the day's hazards were recorded)."""
        for building, when in sorted(self.survey_day.items()):
            if when != day:
                continue
            case = self.sim.ledger.get(building)
            if building == self.removed:
                self.sim.fire(case, "delist", "community", day, reason=_REMOVED)
                continue
            data = case.data
            community = str(data.get("community") or "")
            worker = str(data.get("grid_worker") or f"{community}网格员")
            payload: dict[str, object] = {
                "grid_worker": worker,
                "building_head": str(data.get("building_head") or "楼栋长"),
                "hazards": self.found[building_key(data)] * self.scale,
            }
            if data.get("building_head_phone"):
                payload["building_head_phone"] = data["building_head_phone"]
            self.sim.fire(
                case,
                "survey",
                "grid_worker",
                day,
                payload=payload,
                actor=Actor(worker, "grid_worker"),
            )

    def tasks(self, day: dt.date) -> None:
        """Report the tasks' progress on the 20th, and each done on its day."""
        if day < PLAN_DAY:
            return
        for task in self.sim.campaign.tasks:
            if task.key in self.done:
                continue
            when = _DONE.get(task.key)
            if self._surveyed() if when is None else day >= when:
                self._report(task.case_id, "complete", {"summary": self._summary(task.key)}, day)
                self.done.add(task.key)
            elif day.day == _PROGRESS_DAY:
                self._report(
                    task.case_id, "report_progress", {"progress": self._progress(task.key)}, day
                )

    def _report(
        self, case_id: str, event: str, payload: Mapping[str, object], day: dt.date
    ) -> None:
        case = self.sim.ledger.get(case_id)
        self.sim.fire(case, event, "town_office", day, payload=payload, actor=_OFFICE)

    def _buildings(self) -> list[Case]:
        return [self.sim.ledger.get(i) for i, _, _ in self.register]

    def _surveyed(self) -> bool:
        return bool(self.register) and all(c.final for c in self._buildings())

    def _progress(self, key: str) -> str:
        if key.startswith(("survey", "name_staff")):
            buildings = self._buildings()
            done = sum(c.state == "surveyed" for c in buildings)
            return f"已摸排{done}栋，共{len(buildings)}栋"
        kinds = {spec.id: spec.kind for spec in self.sim.specs}
        hazards = [c for c in self.sim.ledger.cases() if kinds.get(c.workflow) == "hazard"]
        if key == "canopies":
            hazards = [
                c for c in hazards if str(c.data.get("category")) in ("STR.CANOPY", "STR.NET")
            ]
        closed = sum(c.final for c in hazards)
        return f"已整改销号{closed}处，共{len(hazards)}处"

    def _summary(self, key: str) -> str:
        if key == "survey_buildings":
            buildings = self._buildings()
            removed = sum(c.state == "delisted" for c in buildings)
            also = f"（另有{removed}栋移出台账）" if removed else ""
            surveyed = len(buildings) - removed
            return f"全镇老旧小区{surveyed}栋建筑已全部摸排{also}，问题清单已建立"
        if key == "annual_plan":
            return "已根据各社区整改计划制定全镇老旧小区年度整改计划"
        if key == "name_staff":
            return "各小区网格员、楼栋长已全部明确并登记在册"
        return f"已完成：{self._progress(key)}"

    # -- look-back -----------------------------------------------------------------------

    def look_back(self, day: dt.date) -> None:
        """Look again at the day's sample: earlier years' hazards confirmed, one relapsed."""
        sim = self.sim
        cases = list(sim.ledger.cases_as_of(day))
        results = lookback_results(cases, sim.specs, as_of=day, seed=lookback_seed(day))
        relapsed_earlier = relapsed_this_year = False
        for result in results:
            case = result.case
            if case.workflow == "earlier" and result.pending:
                if not relapsed_earlier and str(case.data.get("category", "")).startswith("EBIKE"):
                    relapsed_earlier = True
                    self._relapse(case, day)
                else:
                    sim.fire(
                        case, "confirm", "grid_worker", day, payload={"note": "整改效果保持良好"}
                    )
            elif case.workflow == "immediate" and result.passed and not relapsed_this_year:
                relapsed_this_year = True
                sim.reopen(case, day)

    def _relapse(self, case: Case, day: dt.date) -> None:
        """Record an earlier year's hazard found again, and open a new case for it."""
        sim = self.sim
        new_id = f"{case.id}-R1"
        findings = "回头看复查发现问题反弹，已重新立案整改"
        sim.fire(
            case, "relapse", "grid_worker", day, payload={"findings": findings, "new_case": new_id}
        )
        category = sim.categories.category(str(case.data["category"]))
        level = sim.categories.severity(category.severity)
        kept = ("community", "community_name", "address", "building", "location", "description")
        data = {k: case.data[k] for k in kept if case.data.get(k)}
        data |= {"category": category.code, "severity": level.name}
        sim.open_relapse(new_id, level.workflow, data, case, day)
