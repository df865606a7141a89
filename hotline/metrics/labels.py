"""The reports' words in Chinese and English: titles, column headers, chart titles and axes, and
the notes on what the figures include. One ``Labels`` per language (a frozen dataclass, so mypy
checks that both languages have every entry); data keys (request kinds, languages, "total")
are translated where a fixed list exists, other keys shown as stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGS = ("en", "zh")
# Today's default; a later issue switches the default language.
DEFAULT_LANG = "en"


@dataclass(frozen=True)
class Labels:
    html_lang: str
    # str.format fields: {period} (a word of ``periods``).
    page_title: str
    heading: str
    periods: Mapping[str, str]
    # {since} {until} {tz}
    span: str
    # {short} {sl}: seconds
    definitions: str
    aht_note: str
    # By {group}; the group's own name heads its key column.
    by_group: str
    groups: Mapping[str, str]
    columns: Mapping[str, str]
    # Data keys with a fixed list: "total", "-" (none), request kinds, languages.
    keys: Mapping[str, str]
    # Charts. {group}: a word of ``trend`` (hour or day); {sl}: seconds.
    trend: Mapping[str, str]
    calls_by_hour: str
    asa_by: str
    service_level_by: str
    talk_per_agent: str
    abandoned_by: str
    hour_of_day: str
    calls_axis: str
    offered: str
    answered: str
    abandoned_long: str
    short_abandons: str
    no_data: str
    # Tickets.
    top_categories: str
    repeat_callers: str
    category: str
    tickets: str
    number: str
    repeats: str
    no_tickets: str
    none: str
    # Draft acceptance (per drafted ticket field).
    draft_acceptance: str
    draft_note: str
    draft_field: str
    draft_fields: Mapping[str, str]
    draft_columns: Mapping[str, str]
    no_drafts: str
    # The same per ISO week (reports spanning more than one week). {week}: ISO week number,
    # {monday}: its Monday (MM-DD); {rate} (formatted), {drafted}: tickets the field was drafted in.
    draft_weekly: str
    draft_weekly_note: str
    draft_week: str
    draft_period: str
    draft_cell: str
    # Satisfaction.
    satisfaction: str
    satisfaction_note: str
    sat_columns: Mapping[str, str]
    sat_groups: Mapping[str, str]
    # {target}
    target: str
    # {group}
    satisfaction_by: str
    no_surveys: str

    def key(self, value: str) -> str:
        return self.keys.get(value, value)


EN = Labels(
    html_lang="en",
    page_title="12345 {period} report",
    heading="12345 hotline — {period} report",
    periods={"daily": "daily", "weekly": "weekly", "monthly": "monthly"},
    span="{since} to {until} ({tz}).",
    definitions=(
        "Short abandons: under {short} s; service level: answered within {sl} s of offered "
        "minus short abandons."
    ),
    aht_note=(
        "ASA: average queue wait of answered calls. AHT (average handling time) = (talk + hold "
        "+ wrap-up) / answered calls: talk runs from the agent's answer to the end of the "
        "call's bridge, so it includes any hold (the caller stays bridged, hearing music), and "
        "wrap-up is the agent's after-call work on the call."
    ),
    by_group="By {group}",
    groups={
        "queue": "queue",
        "agent": "agent",
        "language": "language",
        "kind": "kind",
        "region": "region",
        "hour": "hour",
        "day": "day",
    },
    columns={
        "offered": "offered",
        "answered": "answered",
        "abandoned": "abandoned",
        "short_abandons": "short abandons",
        "asa": "asa",
        "aht": "aht",
        "service_level": "service level",
        "abandonment_rate": "abandonment rate",
        "talk_hours": "talk hours",
    },
    keys={},
    trend={"hour": "hour", "day": "day"},
    calls_by_hour="Calls by hour",
    asa_by="ASA by {group}",
    service_level_by="Service level ({sl} s) by {group}",
    talk_per_agent="Talk hours per agent",
    abandoned_by="Abandoned by {group}",
    hour_of_day="hour of day",
    calls_axis="calls",
    offered="offered",
    answered="answered",
    abandoned_long="abandoned",
    short_abandons="short abandons",
    no_data="no data",
    top_categories="Top ticket categories",
    repeat_callers="Repeat callers",
    category="category",
    tickets="tickets",
    number="number",
    repeats="repeats",
    no_tickets="no tickets",
    none="none",
    draft_acceptance="Draft acceptance per field",
    draft_note=(
        "Tickets first saved in the period from a call the system drafted: per field, kept as "
        "drafted (accepted), changed, emptied, or filled where the draft had nothing (added). "
        "Acceptance rate = accepted / (accepted + changed + emptied). Later edits do not count."
    ),
    draft_field="field",
    draft_fields={
        "kind": "kind",
        "category": "category",
        "location": "location",
        "callback_number": "call-back number",
        "description": "description",
    },
    draft_columns={
        "accepted": "accepted",
        "changed": "changed",
        "emptied": "emptied",
        "added": "added",
        "rate": "acceptance rate",
    },
    no_drafts="no drafted tickets",
    draft_weekly="Draft acceptance per field and week",
    draft_weekly_note=(
        "Acceptance rate per ISO week (from Monday, local time; headed by its number and its "
        "Monday), with the number of tickets whose draft suggested the field in brackets. A "
        "week cut by the period's edges counts only the period's days. An empty cell: no "
        "drafted value for that field in that week."
    ),
    draft_week="W{week} ({monday})",
    draft_period="whole period",
    draft_cell="{rate} ({drafted})",
    satisfaction="Citizen satisfaction",
    satisfaction_note=(
        "Satisfaction-survey callbacks completed in the period: satisfaction rate = "
        "(satisfied + basically satisfied) / surveyed; satisfied share = satisfied / surveyed."
    ),
    sat_columns={
        "surveyed": "surveyed",
        "satisfied": "satisfied",
        "basically_satisfied": "basically satisfied",
        "dissatisfied": "dissatisfied",
        "satisfaction_rate": "satisfaction rate",
        "satisfied_share": "satisfied share",
    },
    sat_groups={"department": "department", "category": "category", "agent": "agent"},
    target="target {target}",
    satisfaction_by="Satisfaction by {group}",
    no_surveys="no completed surveys",
)

ZH = Labels(
    html_lang="zh-CN",
    page_title="12345 热线{period}",
    heading="12345 热线 — {period}",
    periods={"daily": "日报", "weekly": "周报", "monthly": "月报"},
    span="统计时段：{since} 至 {until}（{tz}）。",
    definitions=(
        "短时放弃：排队不足 {short} 秒即挂机；服务水平：{sl} 秒内接通的来电 / "
        "（呼入量 - 短时放弃）。"
    ),
    aht_note=(
        "平均应答速度（ASA）：已接通来电的平均排队等待时长。平均处理时长（AHT）=（通话 + "
        "保持 + 话后处理）/ 接通量：通话时长从坐席接起到通话桥接结束，已包含保持时间"
        "（保持期间来电人仍在桥接中，听等待音乐）；话后处理为坐席挂机后处理该来电的时间。"
    ),
    by_group="按{group}统计",
    groups={
        "queue": "队列",
        "agent": "坐席",
        "language": "语言",
        "kind": "诉求类型",
        "region": "来电地区",
        "hour": "小时",
        "day": "日期",
    },
    columns={
        "offered": "呼入量",
        "answered": "接通量",
        "abandoned": "放弃量",
        "short_abandons": "短时放弃",
        "asa": "平均应答速度",
        "aht": "平均处理时长",
        "service_level": "服务水平",
        "abandonment_rate": "放弃率",
        "talk_hours": "通话时长（小时）",
    },
    keys={
        "total": "合计",
        "-": "（无）",
        "zh": "中文",
        "en": "英语",
        "consultation": "咨询",
        "help_request": "求助",
        "complaint": "投诉",
        "report": "举报",
        "suggestion": "建议",
    },
    trend={"hour": "小时", "day": "日"},
    calls_by_hour="各时段来电量",
    asa_by="平均应答速度（按{group}）",
    service_level_by="服务水平（{sl} 秒，按{group}）",
    talk_per_agent="坐席通话时长",
    abandoned_by="放弃来电（按{group}）",
    hour_of_day="时段（时）",
    calls_axis="来电数",
    offered="呼入",
    answered="接通",
    abandoned_long="放弃",
    short_abandons="短时放弃",
    no_data="无数据",
    top_categories="工单类别排行",
    repeat_callers="重复来电人",
    category="类别",
    tickets="工单数",
    number="号码",
    repeats="重复次数",
    no_tickets="无工单",
    none="无",
    draft_acceptance="草稿字段采纳率",
    draft_note=(
        "本时段内首次保存、且来电有系统草稿的工单：逐字段统计坐席原样采纳、修改、清空，"
        "或在草稿为空时补填（新增）的次数。采纳率 = 原样采纳 /（原样采纳 + 修改 + 清空）。"
        "之后的编辑不计入。"
    ),
    draft_field="字段",
    draft_fields={
        "kind": "诉求类型",
        "category": "类别",
        "location": "地点",
        "callback_number": "回拨电话",
        "description": "诉求摘要",
    },
    draft_columns={
        "accepted": "原样采纳",
        "changed": "修改",
        "emptied": "清空",
        "added": "新增",
        "rate": "采纳率",
    },
    no_drafts="暂无系统草稿的工单",
    draft_weekly="草稿字段每周采纳率",
    draft_weekly_note=(
        "按自然周（周一起，本地时间；以周次和该周周一日期标示）统计的采纳率，括号内为草稿"
        "给出该字段的工单数。被统计时段截断的周只计入时段内的日期。空白：该周该字段没有草稿值。"
    ),
    draft_week="第{week}周（{monday}）",
    draft_period="全时段",
    draft_cell="{rate}（{drafted}）",
    satisfaction="市民满意度",
    satisfaction_note=(
        "本时段内完成的满意度回访：满意率 =（满意 + 基本满意）/ 回访量；满意占比 = 满意 / 回访量。"
    ),
    sat_columns={
        "surveyed": "回访量",
        "satisfied": "满意",
        "basically_satisfied": "基本满意",
        "dissatisfied": "不满意",
        "satisfaction_rate": "满意率",
        "satisfied_share": "满意占比",
    },
    sat_groups={"department": "承办部门", "category": "类别", "agent": "坐席"},
    target="目标 {target}",
    satisfaction_by="按{group}统计的满意度",
    no_surveys="暂无完成的回访",
)

CATALOGUE: Mapping[str, Labels] = {"en": EN, "zh": ZH}
