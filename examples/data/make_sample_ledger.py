"""Write the sample ledger (台账) of 虎峰镇 for the demo: ledger-2024.xlsx and ledger-2024.csv.

Everything in it is invented: the estates and the companies that manage them, the building
heads and their phone numbers (170/171, virtual-operator ranges), the residents and shops. The
layout is Attachment 1 of the work plan, filled in as a community would: a title row, merged
community and estate cells, several ways of writing floors, phones and dates, and the category
column mostly left empty (the importer infers it from the hazard text). Every row names who
must fix the hazard (the estate's property company, "2单元401室住户", an owner or a shop by
name, the residents' committee) and what they must do, in whole phrases addressed to them.
The run is seeded, so the files come out the same each time; it reads both back with
``rectify.spreadsheets.read_ledger`` and checks them before it finishes.

Run from the repository root::

    .venv/bin/python examples/data/make_sample_ledger.py
"""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Final

# openpyxl writes its XML through lxml where lxml is installed (python-docx brings it) and
# through the standard library otherwise, and the two spell it differently: always the
# latter, so that the workbooks come out the same byte for byte wherever they are made.
os.environ["OPENPYXL_LXML"] = "False"

import attrs
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

import rectify
import rectify.spreadsheets

Value = str | int | dt.date | None
HERE: Final = Path(__file__).resolve().parent
TOWN: Final = "虎峰镇"
TITLE: Final = "铜梁区虎峰镇老旧小区台账"
HEADERS: Final = (
    *rectify.spreadsheets.LEDGER_HEADERS,
    "楼栋",
    "隐患类别",
    "整改责任人",
    "整改措施",
)
FIXED_TIME: Final = (2024, 3, 11, 9, 0, 0)
SEED: Final = 20240311
EXTRA_HAZARDS: Final = 40

#: community → estates (name, address, number of buildings, usual floors)
ESTATES: Final = {
    "虎峰社区": [
        ("龙门小区", "虎峰镇龙门街12号", 4, (6, 7)),
        ("虎峰花园", "虎峰镇虎峰大道88号", 3, (18, 26)),
        ("粮站家属院", "虎峰镇粮站路3号", 2, (5, 6)),
    ],
    "正街社区": [
        ("供销社宿舍", "虎峰镇正街45号", 3, (5, 7)),
        ("盐市口小区", "虎峰镇盐市口路7号", 4, (6, 9)),
        ("文化站宿舍", "虎峰镇正街102号", 2, (5, 6)),
    ],
    "巴岳社区": [
        ("巴岳山庄", "虎峰镇巴岳路18号", 5, (11, 33)),
        ("电力小区", "虎峰镇巴岳路66号", 3, (6, 8)),
        ("农机厂宿舍", "虎峰镇农机路9号", 2, (5, 6)),
    ],
    "新桥社区": [
        ("新桥苑", "虎峰镇新桥路21号", 4, (7, 18)),
        ("滨河小区", "虎峰镇滨河路5号", 3, (6, 11)),
        ("水泥厂家属区", "虎峰镇新桥路150号", 3, (5, 7)),
    ],
}

#: estate → who manages it: a property company, or for an old works compound without one the
#: unit that still owns it (产权单位) or the community that took it over (社区托管).
MANAGERS: Final = {
    "龙门小区": "重庆龙门物业服务有限公司",
    "虎峰花园": "重庆锦峰物业管理有限公司",
    "粮站家属院": "铜梁区虎峰粮站（产权单位）",
    "供销社宿舍": "铜梁区供销物业服务有限公司",
    "盐市口小区": "铜梁区盐市口物业服务有限公司",
    "文化站宿舍": "正街社区居民委员会（托管）",
    "巴岳山庄": "重庆巴岳山庄物业服务有限公司",
    "电力小区": "铜梁区明亮物业管理有限公司",
    "农机厂宿舍": "重庆铜梁农机厂（产权单位）",
    "新桥苑": "重庆新桥苑物业服务有限公司",
    "滨河小区": "铜梁区滨河物业服务有限公司",
    "水泥厂家属区": "新桥社区居民委员会（托管）",
}
WATERWORKS: Final = "虎峰镇自来水厂"


@attrs.frozen
class Sample:
    """A hazard as a grid worker writes it, who must fix it and what they are told to do.

    ``text`` may hold ``{u}`` (the unit) and ``{f}`` (the floor). ``party`` says who is
    responsible: ``property`` (the estate's manager, :data:`MANAGERS`), ``resident`` (the
    household, "2单元401室住户"), ``owner`` (the flat's owner, by name), ``user`` (whoever uses
    a garage, by name), ``shop``, ``community`` (the residents' committee) or ``water`` (the
    waterworks). ``measures`` is addressed to that party; what the office does if they refuse
    (移交派出所, 督办) is the workflow's business, never written here.
    """

    text: str
    party: str
    measures: str


#: category → hazards; each text holds a keyword of its category.
HAZARDS: Final = {
    "FAC.HYD.IN": [
        Sample(
            "{u}单元室内消火栓无水，管网压力不足",
            "property",
            "检修室内消火栓给水管网，加装增压设施，恢复正常供水",
        ),
        Sample(
            "楼内室内消火栓缺失，未按原设计设置",
            "property",
            "按原设计补设室内消火栓，补设前在各楼层配置灭火器",
        ),
    ],
    "FAC.HYD.OUT": [
        Sample("小区入口处室外消火栓损坏漏水", "water", "维修或更换损坏的室外消火栓，恢复正常出水"),
        Sample("小区内唯一的室外消火栓无法出水", "water", "检修室外消火栓及供水管道，确保正常出水"),
    ],
    "FAC.SPR": [
        Sample(
            "地下车库自动喷水灭火系统无水",
            "property",
            "检修喷淋系统水泵和供水管网，恢复系统正常供水",
        ),
        Sample(
            "地下车库喷淋管道锈蚀，部分喷头缺失",
            "property",
            "更换锈蚀管道，补齐缺失喷头，调试合格后投入使用",
        ),
    ],
    "FAC.HOSE": [
        Sample("{u}单元{f}楼消火栓箱内水带、水枪缺失", "property", "补齐消火栓箱内的水带、水枪"),
        Sample("{u}单元{f}楼消火栓箱内水带老化破损", "property", "更换老化破损的水带"),
    ],
    "FAC.HYD.BLOCK": [
        Sample(
            "{u}单元{f}楼消火栓箱堆放杂物，箱门无法打开",
            "resident",
            "立即清理消火栓箱内杂物，保证箱门能正常开启",
        ),
        Sample("绿化带内消火栓被泥土埋压", "property", "立即清除埋压消火栓的泥土，恢复正常使用"),
        Sample(
            "{u}单元一楼住户搭建鞋柜遮挡消火栓",
            "resident",
            "立即移走遮挡消火栓的鞋柜，保持消火栓周围畅通",
        ),
    ],
    "FAC.LIGHT": [
        Sample("{u}单元楼梯间应急照明灯损坏", "property", "更换损坏的应急照明灯"),
        Sample("{u}单元楼梯间疏散指示标志缺失", "property", "按规范补设疏散指示标志"),
    ],
    "FAC.EXT": [
        Sample("{u}单元公共区域灭火器过期未更换", "property", "更换过期灭火器"),
        Sample("{u}单元{f}楼灭火器箱内灭火器缺失", "property", "补齐灭火器箱内的灭火器"),
    ],
    "PAS.LANE": [
        Sample(
            "私家车长期停放，占用消防车通道",
            "property",
            "立即通知车主挪走车辆，在消防车通道施划禁停标线",
        ),
        Sample("小区出入口堆放建材，堵塞通道", "resident", "立即清运堆放的建材，保持通道畅通"),
    ],
    "PAS.LANE.STRUCT": [
        Sample(
            "小区入口设置固定地桩，消防车无法通行",
            "property",
            "拆除固定地桩，确需设置的改为可快速移除的活动地桩",
        ),
        Sample(
            "主入口道闸宽度不足，消防车无法进入",
            "property",
            "改造主入口道闸，保证消防车通行宽度不小于4米",
        ),
        Sample(
            "违章构筑物占用小区内主干道",
            "owner",
            "限期自行拆除占道的违章构筑物，恢复消防车通道",
        ),
    ],
    "PAS.EVAC": [
        Sample("{u}单元{f}楼楼道堆放杂物", "resident", "立即清理楼道堆放物，保持疏散通道畅通"),
        Sample("{u}单元顶楼安全出口锁闭", "property", "立即打开顶楼安全出口，确保从内部能直接开启"),
        Sample("{u}单元楼梯间堆物，影响疏散", "resident", "立即清理楼梯间堆放物，保持疏散通道畅通"),
    ],
    "STR.CANOPY": [
        Sample("{u}单元{f}楼住户窗外搭设可燃雨棚", "owner", "拆除可燃雨棚，确需设置的改用不燃材料"),
        Sample("{u}单元一楼住户私搭彩钢棚", "owner", "拆除私搭的彩钢棚"),
    ],
    "STR.NET": [
        Sample(
            "{u}单元{f}楼住户防盗网突出外墙，未设逃生口",
            "owner",
            "在防盗网上开设能从内部开启的逃生口",
        ),
        Sample(
            "{u}单元{f}楼阳台防护网突出外墙",
            "owner",
            "拆除突出外墙的防护网，或改为能从内部开启的样式",
        ),
    ],
    "ELEC.WIRE": [
        Sample(
            "{u}单元{f}楼楼道私拉乱接电线",
            "resident",
            "拆除楼道内私拉乱接的电线，由持证电工规范敷设",
        ),
        Sample("{u}单元公共区域电线老化、裸露", "property", "更换老化电线，穿管保护，规范敷设"),
    ],
    "EBIKE.CHARGE": [
        Sample("{u}单元{f}楼住户从窗口飞线充电", "resident", "立即拆除飞线，到小区集中充电点充电"),
        Sample(
            "{u}单元{f}楼住户将电池带回家入户充电",
            "resident",
            "立即停止入户充电，电池到集中充电点充电",
        ),
    ],
    "EBIKE.PARK": [
        Sample("{u}单元楼道停放电动车", "resident", "立即将电动车移出楼道，停放到指定区域"),
        Sample(
            "{u}单元一楼安全出口处电动车停放",
            "resident",
            "立即移走安全出口处的电动车，停放到指定区域",
        ),
    ],
    "EBIKE.INFRA": [
        Sample(
            "小区无电动自行车集中充电设施",
            "community",
            "选址建设电动自行车集中充电点，建成前加强巡查劝阻",
        ),
        Sample(
            "小区无电动自行车停放棚，车辆随意停放",
            "community",
            "规划建设电动自行车停放棚，先行划定临时停放区域",
        ),
    ],
    "PPL.SPECIAL": [
        Sample(
            "{u}单元{f}楼独居老人家中未安装独立烟感",
            "community",
            "为独居老人家中安装独立式感烟火灾探测报警器",
        ),
        Sample(
            "{u}单元{f}楼残疾人家庭未落实结对帮扶",
            "community",
            "明确结对帮扶人员，定期上门开展安全检查",
        ),
    ],
    "ORG.MFS": [
        Sample(
            "小区未建立微型消防站",
            "community",
            "建立微型消防站，配齐器材，明确值守人员",
        ),
    ],
    "ORG.PROP": [
        Sample(
            "小区无消防设施管理单位，消防设施长期无人维保",
            "community",
            "明确消防设施管理单位，委托维保单位定期维保",
        ),
        Sample(
            "物业未履职，未开展防火巡查检查",
            "property",
            "建立防火巡查检查制度，每日巡查并如实记录",
        ),
    ],
    "MIX.SHOP": [
        Sample(
            "一楼门面“三合一”，店内住人",
            "shop",
            "停止在店内住人，住宿与经营、储存部分实施防火分隔",
        ),
        Sample("{u}单元一楼车库改作仓储使用", "user", "清走车库内存放的货物，恢复车库原用途"),
    ],
}

SURNAMES: Final = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN: Final = "华芳伟敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英兰琴云辉建国红玉春梅德福海燕"
#: whole given names for the residents, owners and shopkeepers the ledger names
GIVEN_NAMES: Final = (
    "建国", "秀英", "桂兰", "德福", "海燕", "春梅", "玉兰", "志强", "红梅", "永红", "国庆",
    "丽华", "明华", "淑芬", "晓燕", "光明", "小平", "金凤", "家富", "文静", "伟", "静",
    "敏", "强", "军", "勇", "涛", "磊", "芳", "娟", "霞", "刚",
)  # fmt: skip
SHOPS: Final = ("五金店", "副食店", "小吃店", "干洗店", "电动车维修店", "粮油店", "茶馆")
ZH: Final = "零一二三四五六七八九"


@attrs.frozen
class Building:
    community: str
    estate: str
    address: str
    name: str
    head: str
    phone: str
    floors: int
    height_cell: str | int
    head_cell: str


@attrs.frozen
class Hazard:
    building: Building
    category: str
    description: str
    due: dt.date | None
    due_text: str
    category_cell: str
    party: str
    measures: str


def zh_floors(number: int) -> str:
    tens, units = divmod(number, 10)
    if not tens:
        return ZH[units]
    return ("" if tens == 1 else ZH[tens]) + "十" + (ZH[units] if units else "")


def make_buildings(rng: random.Random) -> list[Building]:
    out: list[Building] = []
    used_phones: set[str] = set()
    for community, estates in ESTATES.items():
        for estate, address, count, (low, high) in estates:
            for number in range(1, count + 1):
                name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
                phone = ""
                while not phone or phone in used_phones:
                    phone = f"{rng.choice(('170', '171'))}{rng.randrange(10**8):08d}"
                used_phones.add(phone)
                floors = rng.randint(low, high)
                head = head_cell(name, phone, rng.randrange(4))
                out.append(
                    Building(
                        community,
                        estate,
                        address,
                        f"{number}栋",
                        name,
                        phone,
                        floors,
                        height_cell(rng, floors),
                        head,
                    )
                )
    return out


def height_cell(rng: random.Random, floors: int) -> str | int:
    """Return the height cell as people write it: 6, 6F, 六层, 18米（6层）, 6层."""
    styles: tuple[str | int, ...] = (
        floors,
        f"{floors}F",
        f"{zh_floors(floors)}层",
        f"{floors * 3}米（{floors}层）",
        f"{floors}层",
    )
    return rng.choice(styles)


def head_cell(name: str, phone: str, style: int) -> str:
    """Return the building head's cell: 李华 170-1234-5678, 李华/…, 李华（…）, 李华 170…."""
    dashed = f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    return (f"{name} {dashed}", f"{name}/{dashed}", f"{name}（{dashed}）", f"{name} {phone}")[style]


def due_for(rng: random.Random, severity: str) -> tuple[dt.date | None, str]:
    """Return the deadline and, for the immediate ones, what the cell says (立即整改)."""
    if severity == "immediate":
        return None, rng.choice(("", "", "立即整改"))
    if severity == "general_short":
        return dt.date(2024, 4, 1) + dt.timedelta(days=rng.randrange(10, 40)), ""
    if severity == "general":
        return dt.date(2024, 4, 20) + dt.timedelta(days=rng.randrange(10, 60)), ""
    if severity == "engineering":
        return rng.choice(
            (dt.date(2024, 6, 30), dt.date(2024, 6, 30), None, dt.date(2024, 9, 30))
        ), ""
    return rng.choice((dt.date(2024, 12, 25), None)), ""


#: the categories.yaml parties whose rows the first version gave a room number
ROOM_PARTIES: Final = ("业主", "住户", "车主", "使用人", "造成问题的单位或个人")


def keep_room_draws(
    rng: random.Random, table: rectify.definitions.CategoryTable, code: str, floors: int
) -> None:
    """Take the two draws the first version of this script spent on a room number.

    They decide nothing any more (the text comes from :class:`Writer`), but every draw after
    them decides the ledger's structure: deadlines, category cells, the ways dates are
    written. Keeping them keeps the demo's cases, figures and documents where they were.
    """
    if table.category(code).party.split("；")[0] in ROOM_PARTIES:
        rng.randint(1, min(floors, 7))
        rng.randint(1, 4)


class Writer:
    """Writes who is responsible for a hazard, from its own seeded stream of choices.

    The same household is the same person wherever it appears, and a resident's room is on
    the floor the hazard text names ("2单元6楼…" → 2单元6xx室).
    """

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - sample data, not a secret
        self.people: dict[tuple[str, ...], str] = {}
        self.shops: dict[tuple[str, str], str] = {}

    def person(self, *key: str) -> str:
        if key not in self.people:
            taken = set(self.people.values())
            name = ""
            while not name or name in taken:
                name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN_NAMES)
            self.people[key] = name
        return self.people[key]

    def room(self, sample: Sample, building: Building, unit: int, floor: int) -> str:
        """Return the room ("2单元602室") of the household the hazard text points at."""
        if "{f}" in sample.text:
            level = floor
        elif "一楼" in sample.text or sample.party == "owner":
            level = 1  # an owner who built on the ground is a ground-floor owner
        else:
            level = self.rng.randint(1, building.floors)
        return f"{unit}单元{level}{self.rng.randint(1, 4):02d}室"

    def party(self, sample: Sample, building: Building, unit: int, floor: int) -> str:
        """Return the responsible party as the community writes it in the ledger."""
        kind = sample.party
        if kind == "property":
            return MANAGERS[building.estate]
        if kind == "community":
            return f"{building.community}居民委员会"
        if kind == "water":
            return WATERWORKS
        if kind == "shop":
            key = (building.estate, building.name)
            if key not in self.shops:
                owner = self.person(*key, "shop")
                self.shops[key] = f"{owner[0]}记{self.rng.choice(SHOPS)}（经营者{owner}）"
            return self.shops[key]
        if kind == "user":
            garage = f"{unit}单元车库"
            return f"{self.person(building.estate, building.name, garage)}（{garage}使用人）"
        room = self.room(sample, building, unit, floor)
        if kind == "owner":
            return f"{self.person(building.estate, building.name, room)}（{room}业主）"
        if kind == "resident":
            return f"{room}住户"
        raise ValueError(f"unknown party {kind!r}")


def make_hazards(
    rng: random.Random, buildings: list[Building], table: rectify.definitions.CategoryTable
) -> list[Hazard]:
    """Return the hazards: ``rng`` decides where, what and when; a :class:`Writer` who."""
    codes = [c.code for c in table.categories]
    if missing := set(codes) - set(HAZARDS):
        raise SystemExit(f"no sample text for {sorted(missing)}")
    common = [
        "PAS.EVAC",
        "EBIKE.CHARGE",
        "ELEC.WIRE",
        "STR.CANOPY",
        "STR.NET",
        "FAC.HOSE",
        "FAC.EXT",
        "EBIKE.PARK",
    ]
    plan = [code for code in codes for _ in range(3)] + [
        rng.choice(common) for _ in range(EXTRA_HAZARDS)
    ]
    rng.shuffle(plan)
    writer = Writer(f"{SEED}-parties")
    out: list[Hazard] = []
    keys: set[tuple[str, str, str]] = set()
    for index, code in enumerate(plan):
        # every building first, then anywhere
        building = buildings[index] if index < len(buildings) else rng.choice(buildings)
        for _ in range(50):
            unit, floor = rng.randint(1, 3), rng.randint(2, building.floors)
            sample = rng.choice(HAZARDS[code])
            text = sample.text.format(u=unit, f=floor)
            if (building.estate, building.name, text) not in keys:
                break
            building = rng.choice(buildings)
        keys.add((building.estate, building.name, text))
        category = table.category(code)
        due, due_text = due_for(rng, category.severity)
        filled = rng.random() < 0.2  # noqa: PLR2004 - most rows leave the category to inference
        cell = (code if rng.random() < 0.5 else category.title) if filled else ""  # noqa: PLR2004
        if rng.random() < 0.7:  # noqa: PLR2004 - the first version's "measures filled in"
            keep_room_draws(rng, table, code, building.floors)
        out.append(
            Hazard(
                building,
                code,
                text,
                due,
                due_text,
                cell,
                writer.party(sample, building, unit, floor),
                sample.measures,
            )
        )
    order = {b: i for i, b in enumerate(buildings)}
    out.sort(key=lambda h: order[h.building])
    return out


def date_text(rng: random.Random, day: dt.date) -> str:
    return rng.choice(
        (
            day.isoformat(),
            f"{day.year}/{day.month}/{day.day}",
            f"{day.year}年{day.month}月{day.day}日",
            f"{day.year}.{day.month}.{day.day}",
        )
    )


def sheet_rows(rng: random.Random, hazards: list[Hazard]) -> list[tuple[list[Value], list[Value]]]:
    """Return each hazard's row as written to the workbook and to the CSV file.

    Community, estate and address cells are written once per block (merged in the workbook,
    left blank in the CSV file, as Excel saves merged cells).
    """
    out: list[tuple[list[Value], list[Value]]] = []
    previous: Hazard | None = None
    for hazard in hazards:
        b = hazard.building
        same_community = previous is not None and previous.building.community == b.community
        same_estate = (
            same_community and previous is not None and previous.building.estate == b.estate
        )
        base: list[Value] = [
            "" if same_community else f"{TOWN}/{b.community}",
            "" if same_estate else b.estate,
            "" if same_estate else b.address,
            b.head_cell,
            b.height_cell,
            hazard.description,
        ]
        tail: list[Value] = [b.name, hazard.category_cell, hazard.party, hazard.measures]
        xlsx_due: Value = hazard.due or hazard.due_text
        csv_due = date_text(rng, hazard.due) if hazard.due else hazard.due_text
        out.append(([*base, xlsx_due, *tail], [*base, csv_due, *tail]))
        previous = hazard
    return out


def reproducible(path: Path) -> None:
    """Rewrite an XLSX file with fixed timestamps, so that a rerun changes no byte."""
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    stamp = "2024-03-11T09:00:00Z"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rf"\g<1>{stamp}", text)
                data = text.encode("utf-8")
            target.writestr(
                zipfile.ZipInfo(info.filename, date_time=FIXED_TIME), data, zipfile.ZIP_DEFLATED
            )
    path.write_bytes(buffer.getvalue())


def check(
    xlsx: Path,
    csv_path: Path,
    hazards: list[Hazard],
    table: rectify.definitions.CategoryTable,
) -> rectify.spreadsheets.LedgerImport:
    book, text = rectify.spreadsheets.read_ledger(xlsx), rectify.spreadsheets.read_ledger(csv_path)
    for result in (book, text):
        if not result.ok:
            raise SystemExit(result.summary())
    if book.rows != text.rows:
        raise SystemExit("the workbook and the CSV file differ")
    if [row.data["category"] for row in book.rows] != [h.category for h in hazards]:
        raise SystemExit("a sample text infers the wrong category")
    if [row.data.get("due") for row in book.rows] != [h.due for h in hazards]:
        raise SystemExit("a deadline reads back wrong")
    if [row.data.get("responsible_party") for row in book.rows] != [h.party for h in hazards]:
        raise SystemExit("a responsible party reads back wrong")
    if [row.data.get("measures", "") for row in book.rows] != [h.measures for h in hazards]:
        raise SystemExit("the measures read back wrong")
    roles = {part for c in table.categories for part in c.party.split("；")}
    for hazard in hazards:
        if hazard.party in roles or "；" in hazard.party:
            raise SystemExit(f"a role, not a party: {hazard.party}")
        if any(word in hazard.measures for word in ("移交", "派出所", "督办", "拒不")):
            raise SystemExit(f"the office's workflow in the measures: {hazard.measures}")
        if (room := re.match(r"(\d)单元(\d+)\d\d室", hazard.party)) and (
            floor := re.search(r"(\d)单元(\d+)楼|(\d)单元一楼", hazard.description)
        ):
            said = (floor[1], floor[2]) if floor[1] else (floor[3], "1")
            if (room[1], room[2]) != said:
                raise SystemExit(f"{hazard.party} is not where {hazard.description} is")
    return book


# -- the estate register and the earlier years' rectified hazards --------------------------

REGISTER_TITLE: Final = "铜梁区虎峰镇老旧小区总数台账（楼栋摸排表）"
REGISTER_HEADERS: Final = (
    "序号",
    "社区",
    "小区名称",
    "地址",
    "楼栋",
    "建筑高度（层数）",
    "户数",
    "是否纳入老旧小区改造",
    "消防设施管理单位",
    "管理单位类型",
    "网格员",
    "楼栋长及联系方式",
    "特殊群体",
)
EARLIER_TITLE: Final = "铜梁区虎峰镇老旧小区历年已整改隐患台账（2022—2023年）"
EARLIER_HEADERS: Final = (
    "序号",
    "年度",
    "社区",
    "小区名称",
    "地址",
    "楼栋",
    "隐患内容",
    "隐患类别",
    "整改责任人",
    "整改措施",
    "销号日期",
)
EARLIER_ITEMS: Final = 40

#: community → estates that have no hazard in the 2024 ledger (name, address, buildings,
#: usual floors): the register lists every estate, so coverage is not "estates with hazards".
QUIET_ESTATES: Final = {
    "虎峰社区": [
        ("邮电小区", "虎峰镇邮电路6号", 2, (5, 6)),
        ("龙门街老院", "虎峰镇龙门街58号", 1, (4, 5)),
    ],
    "正街社区": [
        ("百货公司宿舍", "虎峰镇正街76号", 2, (5, 7)),
        ("新华书店宿舍", "虎峰镇正街131号", 1, (5, 6)),
    ],
    "巴岳社区": [
        ("税务所宿舍", "虎峰镇巴岳路30号", 2, (6, 7)),
        ("巴岳新村", "虎峰镇巴岳路102号", 3, (6, 9)),
    ],
    "新桥社区": [
        ("桥头小区", "虎峰镇新桥路8号", 2, (5, 7)),
        ("水厂宿舍", "虎峰镇新桥路96号", 1, (4, 6)),
    ],
}
#: estate → (the unit managing its fire facilities, the kind written in the register: "" where
#: the name says it: 物业, 指定, 业主委员会, 无). A works compound whose owner or community
#: looks after it is the unit the town designated (镇政府指定单位).
REGISTER_MANAGERS: Final = {
    **{estate: (unit, "") for estate, unit in MANAGERS.items() if "物业" in unit},
    "粮站家属院": (MANAGERS["粮站家属院"], "镇政府指定单位"),
    "文化站宿舍": (MANAGERS["文化站宿舍"], "镇政府指定单位"),
    "农机厂宿舍": (MANAGERS["农机厂宿舍"], "镇政府指定单位"),
    "水泥厂家属区": (MANAGERS["水泥厂家属区"], "镇政府指定单位"),
    "邮电小区": ("邮电小区业主委员会", ""),
    "龙门街老院": ("无", ""),
    "百货公司宿舍": ("铜梁区正街物业服务有限公司", ""),
    "新华书店宿舍": ("", "无"),
    "税务所宿舍": ("重庆安护消防设施维保有限公司（镇政府指定）", ""),
    "巴岳新村": ("巴岳新村业委会", "业主委员会"),
    "桥头小区": ("铜梁区桥头物业管理有限公司", ""),
    "水厂宿舍": (f"{WATERWORKS}（产权单位）", "镇政府指定单位"),
}
#: the estates in the old-estate renovation programme (是否纳入老旧小区改造)
IN_PROGRAMME: Final = frozenset(
    {"龙门小区", "粮站家属院", "供销社宿舍", "文化站宿舍", "电力小区", "农机厂宿舍"}
    | {"水泥厂家属区", "滨河小区", "邮电小区", "百货公司宿舍", "桥头小区"}
)
#: the categories of the earlier years' items, the common ones more than once
EARLIER_CATEGORIES: Final = (
    *("STR.CANOPY", "STR.NET", "PAS.EVAC", "EBIKE.CHARGE", "ELEC.WIRE", "FAC.EXT") * 3,
    *("FAC.HOSE", "FAC.LIGHT", "EBIKE.PARK", "FAC.HYD.BLOCK", "PAS.LANE") * 2,
    *("FAC.HYD.IN", "PAS.LANE.STRUCT", "EBIKE.INFRA", "MIX.SHOP", "PPL.SPECIAL"),
)


@attrs.frozen
class Estate:
    community: str
    name: str
    address: str
    buildings: tuple[Building, ...]
    in_programme: bool
    manager: str
    kind: str
    grid_worker: str


@attrs.frozen
class Rectified:
    year: int
    building: Building
    category: str
    description: str
    category_cell: str
    party: str
    measures: str
    day: dt.date | None  # None: the sheet gives the year only (closed by its end)


def seeded(stream: str) -> random.Random:
    """Return a random stream of its own, seeded from :data:`SEED` and its name."""
    return random.Random(f"{SEED}-{stream}")  # noqa: S311 - sample data, not a secret


def person_name(rng: random.Random, taken: set[str]) -> str:
    name = ""
    while not name or name in taken:
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
    taken.add(name)
    return name


def new_phone(rng: random.Random, used: set[str]) -> str:
    phone = ""
    while not phone or phone in used:
        phone = f"{rng.choice(('170', '171'))}{rng.randrange(10**8):08d}"
    used.add(phone)
    return phone


def make_estates(rng: random.Random, buildings: list[Building]) -> list[Estate]:
    """Return every estate of the register: the ledger's, with its buildings, and the quiet ones.

    The ledger's buildings keep their building heads; the quiet estates' buildings get their
    own. Each community has two grid workers, who share its estates.
    """
    used = {b.phone for b in buildings}
    names = {b.head for b in buildings}
    out: list[Estate] = []
    for community in ESTATES:
        workers = [person_name(rng, names) for _ in range(2)]
        listed = [*ESTATES[community], *QUIET_ESTATES[community]]
        for index, (estate, address, count, (low, high)) in enumerate(listed):
            own = tuple(b for b in buildings if b.community == community and b.estate == estate)
            if not own:
                own = tuple(
                    quiet_building(
                        rng,
                        community=community,
                        estate=estate,
                        address=address,
                        number=number,
                        floors_range=(low, high),
                        used=used,
                        names=names,
                    )
                    for number in range(1, count + 1)
                )
            worker = workers[index % 2]
            if index % 3 == 0:  # some registers give the grid worker's phone too
                worker = f"{worker} {new_phone(rng, used)}"
            manager, kind = REGISTER_MANAGERS[estate]
            out.append(
                Estate(
                    community, estate, address, own, estate in IN_PROGRAMME, manager, kind, worker
                )
            )
    return out


def quiet_building(
    rng: random.Random,
    *,
    community: str,
    estate: str,
    address: str,
    number: int,
    floors_range: tuple[int, int],
    used: set[str],
    names: set[str],
) -> Building:
    name, phone = person_name(rng, names), new_phone(rng, used)
    floors = rng.randint(*floors_range)
    return Building(
        community,
        estate,
        address,
        f"{number}栋",
        name,
        phone,
        floors,
        height_cell(rng, floors),
        head_cell(name, phone, rng.randrange(4)),
    )


def special_groups(rng: random.Random, building: Building, hazards: list[Hazard]) -> str:
    """Return the special-group households of a building (独居老人2户、残疾人1户) or ""."""
    texts = [h.description for h in hazards if h.building == building]
    counts = {
        "独居老人": int(any("独居老人" in t for t in texts)),
        "残疾人": int(any("残疾人" in t for t in texts)),
    }
    if rng.random() < 0.3:  # noqa: PLR2004 - about a third of the buildings
        group = rng.choice(("独居老人", "独居老人", "残疾人"))
        counts[group] += rng.randint(1, 2)
    return "、".join(f"{group}{n}户" for group, n in counts.items() if n)


def register_rows(
    rng: random.Random, estates: list[Estate], hazards: list[Hazard]
) -> list[tuple[list[Value], list[Value]]]:
    """Return each building's row, for the workbook (merged estate cells) and the CSV file."""
    out: list[tuple[list[Value], list[Value]]] = []
    serial = 0
    for estate in estates:
        for index, building in enumerate(estate.buildings):
            first = index == 0
            serial += 1
            units = rng.choice((2, 2, 3))
            households = building.floors * units * 2 - rng.randrange(3)
            head = head_cell(building.head, building.phone, rng.randrange(4))
            groups = special_groups(rng, building, hazards)
            yes = (
                rng.choice(("是", "已纳入"))
                if estate.in_programme
                else rng.choice(("否", "未纳入"))
            )
            cells: list[Value] = [
                serial,
                estate.community if first else "",
                estate.name if first else "",
                estate.address if first else "",
                building.name,
                height_cell(rng, building.floors),
                f"{households}户" if rng.random() < 0.3 else households,  # noqa: PLR2004
                yes if first else "",
                estate.manager if first else "",
                estate.kind if first else "",
                estate.grid_worker if first else "",
                head,
                groups,
            ]
            book = list(cells)
            book[7] = "是" if estate.in_programme else "否"
            out.append((book, cells))
    return out


def make_rectified(
    rng: random.Random, buildings: list[Building], table: rectify.definitions.CategoryTable
) -> list[Rectified]:
    """Return the items rectified in 2022 and 2023 in the ledger's estates."""
    writer = Writer(f"{SEED}-earlier-parties")
    out: list[Rectified] = []
    seen: set[tuple[int, str, str, str]] = set()
    for index in range(EARLIER_ITEMS):
        year = 2022 if index < EARLIER_ITEMS // 2 else 2023
        code = rng.choice(EARLIER_CATEGORIES)
        while True:
            building = rng.choice(buildings)
            unit, floor = rng.randint(1, 3), rng.randint(2, building.floors)
            sample = rng.choice(HAZARDS[code])
            text = sample.text.format(u=unit, f=floor)
            if (year, building.estate, building.name, text) not in seen:
                break
        seen.add((year, building.estate, building.name, text))
        filled = rng.random() < 0.3  # noqa: PLR2004 - most leave the category to inference
        title = table.category(code).title
        cell = (code if rng.random() < 0.5 else title) if filled else ""  # noqa: PLR2004
        day: dt.date | None = dt.date(year, 3, 1) + dt.timedelta(days=rng.randrange(290))
        if rng.random() < 0.1:  # noqa: PLR2004 - a few give the year only
            day = None
        party = writer.party(sample, building, unit, floor)
        out.append(Rectified(year, building, code, text, cell, party, sample.measures, day))
    order = {b: i for i, b in enumerate(buildings)}
    out.sort(key=lambda r: (r.year, order[r.building], r.day or dt.date(r.year, 12, 31)))
    return out


def earlier_rows(
    rng: random.Random, items: list[Rectified]
) -> list[tuple[list[Value], list[Value]]]:
    """Return each item's row, for the workbook (dates as dates) and the CSV file (as text)."""
    out: list[tuple[list[Value], list[Value]]] = []
    previous: Rectified | None = None
    for serial, item in enumerate(items, start=1):
        b = item.building
        same_year = previous is not None and previous.year == item.year
        same_place = (
            same_year
            and previous is not None
            and (previous.building.community, previous.building.estate) == (b.community, b.estate)
        )
        base: list[Value] = [
            serial,
            "" if same_year else f"{item.year}年",
            "" if same_place else b.community,
            "" if same_place else b.estate,
            "" if same_place else b.address,
            b.name,
            item.description,
            item.category_cell,
            item.party,
            item.measures,
        ]
        text = date_text(rng, item.day) if item.day else ""
        out.append(([*base, item.day], [*base, text]))
        previous = item
    return out


def spans(keys: list[object]) -> list[tuple[int, int]]:
    """Return the (first, last) indexes of the runs of equal keys longer than one."""
    out: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if i - 1 > start:
                out.append((start, i - 1))
            start = i
    return out


def write_sheet(
    path: Path,
    *,
    title: str,
    headers: tuple[str, ...],
    rows: list[list[Value]],
    merges: dict[int, list[object]],
    widths: tuple[int, ...],
) -> None:
    """Write a workbook of one sheet: a title row, the header, the rows, merged blocks.

    ``merges`` maps a 1-based column to each row's block key; runs of one key are merged.
    """
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "台账"
    sheet.cell(1, 1, title).font = Font(bold=True, size=14)
    sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    for col, header in enumerate(headers, start=1):
        cell = sheet.cell(2, col, header)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center", vertical="center")
    for r, row in enumerate(rows, start=3):
        for col, value in enumerate(row, start=1):
            cell = sheet.cell(r, col, value if value != "" else None)
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    for column, keys in merges.items():
        for first, last in spans(keys):
            sheet.merge_cells(
                start_row=first + 3, start_column=column, end_row=last + 3, end_column=column
            )
    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = width
    sheet.freeze_panes = "A3"
    book.properties.creator = "rectify sample"
    book.properties.created = dt.datetime(*FIXED_TIME)
    book.save(path)
    reproducible(path)


def write_sheet_csv(
    path: Path, title: str, headers: tuple[str, ...], rows: list[list[Value]]
) -> None:
    import csv  # noqa: PLC0415 - only here

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title])
    writer.writerow(headers)
    writer.writerows(["" if v is None else str(v) for v in row] for row in rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def write_register(
    rng: random.Random, estates: list[Estate], hazards: list[Hazard]
) -> tuple[Path, Path]:
    rows = register_rows(rng, estates, hazards)
    xlsx, csv_path = HERE / "register-2024.xlsx", HERE / "register-2024.csv"
    estate_of = [(e.community, e.name) for e in estates for _ in e.buildings]
    merges: dict[int, list[object]] = {c: list(estate_of) for c in (2, 3, 4, 8, 9, 10, 11)}
    merges[2] = [community for community, _ in estate_of]
    widths = (6, 12, 14, 20, 8, 16, 8, 12, 34, 14, 20, 26, 22)
    write_sheet(
        xlsx,
        title=REGISTER_TITLE,
        headers=REGISTER_HEADERS,
        rows=[r[0] for r in rows],
        merges=merges,
        widths=widths,
    )
    write_sheet_csv(csv_path, REGISTER_TITLE, REGISTER_HEADERS, [r[1] for r in rows])
    return xlsx, csv_path


def write_earlier(rng: random.Random, items: list[Rectified]) -> tuple[Path, Path]:
    rows = earlier_rows(rng, items)
    xlsx, csv_path = HERE / "earlier-2022-2023.xlsx", HERE / "earlier-2022-2023.csv"
    place: list[object] = [(i.year, i.building.community, i.building.estate) for i in items]
    merges: dict[int, list[object]] = {2: [i.year for i in items], 3: place, 4: place, 5: place}
    widths = (6, 8, 12, 14, 20, 8, 40, 16, 28, 40, 12)
    write_sheet(
        xlsx,
        title=EARLIER_TITLE,
        headers=EARLIER_HEADERS,
        rows=[r[0] for r in rows],
        merges=merges,
        widths=widths,
    )
    write_sheet_csv(csv_path, EARLIER_TITLE, EARLIER_HEADERS, [r[1] for r in rows])
    return xlsx, csv_path


def check_register(
    paths: tuple[Path, Path], estates: list[Estate]
) -> rectify.spreadsheets.RegisterImport:
    book, text = (rectify.spreadsheets.read_register(p) for p in paths)
    for result in (book, text):
        if not result.ok:
            raise SystemExit(result.summary())
    if book.rows != text.rows:
        raise SystemExit("the register's workbook and CSV file differ")
    expected = [
        (b.community, b.estate, b.name, b.head, b.phone) for e in estates for b in e.buildings
    ]
    keys = ("community", "community_name", "building", "building_head", "building_head_phone")
    found = [tuple(str(r.data.get(k, "")) for k in keys) for r in book.rows]
    if found != expected:
        raise SystemExit("a building or its head reads back wrong")
    kinds = {str(r.data["facilities_manager_kind"]) for r in book.rows}
    if kinds != set(rectify.spreadsheets._cells.MANAGER_KINDS):
        raise SystemExit(f"not every kind of facilities manager: {sorted(kinds)}")
    return book


def check_earlier(
    paths: tuple[Path, Path], items: list[Rectified], table: rectify.definitions.CategoryTable
) -> rectify.spreadsheets.EarlierImport:
    book, text = (rectify.spreadsheets.read_earlier(p, categories=table) for p in paths)
    for result in (book, text):
        if not result.ok:
            raise SystemExit(result.summary())
    if book.rows != text.rows:
        raise SystemExit("the earlier years' workbook and CSV file differ")
    if [r.data["category"] for r in book.rows] != [i.category for i in items]:
        raise SystemExit("an earlier item's text infers the wrong category")
    days = [i.day or dt.date(i.year, 12, 31) for i in items]
    if [r.data["rectified_on"] for r in book.rows] != days:
        raise SystemExit("an earlier item's day reads back wrong")
    return book


def main() -> None:
    rng = random.Random(SEED)  # noqa: S311 - sample data, not a secret
    table = rectify.load_categories()
    buildings = make_buildings(rng)
    hazards = make_hazards(rng, buildings, table)
    rows = sheet_rows(rng, hazards)
    xlsx, csv_path = HERE / "ledger-2024.xlsx", HERE / "ledger-2024.csv"
    places = [(h.building.community, h.building.estate) for h in hazards]
    write_sheet(
        xlsx,
        title=TITLE,
        headers=HEADERS,
        rows=[r[0] for r in rows],
        # merge the community (A), estate (B) and address (C) cells of each block
        merges={1: [c for c, _ in places], 2: list(places), 3: list(places)},
        widths=(16, 14, 22, 28, 14, 44, 14, 8, 16, 24, 40),
    )
    write_sheet_csv(csv_path, TITLE, HEADERS, [r[1] for r in rows])
    result = check(xlsx, csv_path, hazards, table)
    categories = Counter(str(row.data["category"]) for row in result.rows)
    estates = {(h.building.community, h.building.estate) for h in hazards}
    print(f"wrote {xlsx.name} and {csv_path.name}: {len(result.rows)} hazards")
    print(
        f"  communities {len({h.building.community for h in hazards})}, estates {len(estates)}, "
        f"buildings {len({h.building for h in hazards})}"
    )
    print(
        f"  categories {len(categories)} of {len(table.categories)}; "
        f"filled in {sum(bool(h.category_cell) for h in hazards)}, inferred {len(result.inferred)}"
    )
    print(f"  workflows {dict(Counter(row.workflow for row in result.rows))}")
    # The register and the earlier years draw from their own seeded streams: the ledger
    # above comes out the same whether they are written or not.
    register_estates = make_estates(seeded("register"), buildings)
    paths = write_register(seeded("register-cells"), register_estates, hazards)
    register = check_register(paths, register_estates)
    print(f"wrote {paths[0].name} and {paths[1].name}: {len(register.rows)} buildings")
    for community, names in register.estates().items():
        count = sum(r.data["community"] == community for r in register.rows)
        quiet = len(QUIET_ESTATES[community])
        print(f"  {community}: estates {len(names)} ({quiet} without hazards), buildings {count}")
    earlier_rng = seeded("earlier")
    items = make_rectified(earlier_rng, buildings, table)
    paths = write_earlier(earlier_rng, items)
    earlier = check_earlier(paths, items, table)
    print(f"wrote {paths[0].name} and {paths[1].name}: {len(earlier.rows)} items")
    by_year = Counter((int(str(r.data["year"])), str(r.data["community"])) for r in earlier.rows)
    for (year, community), count in sorted(by_year.items()):
        print(f"  {year} {community}: {count}")
    print(
        f"  categories filled in {sum(bool(i.category_cell) for i in items)}, "
        f"inferred {len(earlier.inferred)}"
    )


if __name__ == "__main__":
    main()
