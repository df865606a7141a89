"""The reports' words in Chinese and English: titles, column headers, chart titles and axes, and
the notes on what the figures include. One ``Labels`` per language (a frozen dataclass, so mypy
checks that both languages have every entry); data keys (request kinds, languages, "total")
are translated where a fixed list exists, other keys shown as stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGS = ("zh", "en")
# Chinese first (the centre's supervisors read Chinese); English per request (?lang=en, --lang en).
DEFAULT_LANG = "zh"


@dataclass(frozen=True)
class Labels:
    html_lang: str
    # str.format fields: {period} (a word of ``periods``).
    page_title: str
    heading: str
    periods: Mapping[str, str]
    # {since} {until} {tz}
    span: str
    # The definitions block: its title, and each figure's formula ({short} {sl}: seconds).
    definitions_title: str
    formulas: Mapping[str, str]
    # One line under each headline figure: what it is made of ({sl}: seconds).
    kpi_notes: Mapping[str, str]
    # Under the by-agent table: where the calls that reached no agent are counted.
    agent_note: str
    # Per agent: time logged in, paused, talking and in wrap-up, and occupancy.
    occupancy_title: str
    occupancy_columns: Mapping[str, str]
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
    definitions_title="Definitions",
    formulas={
        "offered": "calls that entered a queue (calls that ended in the voice menu are not)",
        "answered": "offered calls an agent answered",
        "abandoned": (
            "offered calls whose caller hung up while waiting in the queue, short abandons included"
        ),
        "short_abandons": "abandoned within {short} s of joining the queue",
        "asa": "ASA (average speed of answer) = total queue wait of answered calls / answered",
        "aht": (
            "AHT (average handling time) = (talk + hold + wrap-up) / answered. Talk runs from "
            "the agent's answer to the end of the call's bridge, so it includes any hold (the "
            "caller stays bridged, hearing music); wrap-up is the agent's after-call work on the "
            "call. The live view's AHT is the same figure."
        ),
        "service_level": (
            "answered within {sl} s of joining the queue / (offered - short abandons)"
        ),
        "abandonment_rate": "abandoned / offered (short abandons included)",
        "talk_hours": "sum of the talk time (hold included) of answered calls, in hours",
        "occupancy": (
            "per agent: (talk + wrap-up) / (logged-in time - paused time); talk of the calls "
            "answered at the extension the agent was logged in at"
        ),
    },
    kpi_notes={
        "offered": "entered a queue",
        "answered": "by an agent",
        "abandoned": "hung up while waiting",
        "short_abandons": "under {short} s",
        "asa": "queue wait / answered",
        "aht": "talk + hold + wrap-up",
        "service_level": "within {sl} s / (offered - short)",
        "abandonment_rate": "abandoned / offered",
        "talk_hours": "talk, hold included",
    },
    agent_note=(
        "Calls no agent answered (the abandoned ones among them) have no agent and are not "
        "listed here: they count in the headline figures and in the tables by queue, language "
        "and kind."
    ),
    occupancy_title="Agent occupancy",
    occupancy_columns={
        "agent": "agent",
        "logged_in_s": "logged in",
        "paused_s": "paused",
        "talk_s": "talk",
        "wrap_up_s": "wrap-up",
        "occupancy": "occupancy",
    },
    by_group="By {group}",
    groups={
        "queue": "queue",
        "agent": "agent",
        "language": "language",
        "kind": "kind",
        "region": "region",
        "pbx": "PBX",
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
    definitions_title="指标定义",
    formulas={
        "offered": "进入队列的来电（在语音导航中结束的来电不计入）",
        "answered": "由坐席接起的呼入来电",
        "abandoned": "在队列中等待时来电人挂机的来电，含短时放弃",
        "short_abandons": "进入队列后 {short} 秒内放弃的来电",
        "asa": "平均应答速度（ASA）= 已接通来电的排队等待总时长 / 接通量",
        "aht": (
            "平均处理时长（AHT）=（通话 + 保持 + 话后处理）/ 接通量。通话时长从坐席接起到通话"
            "桥接结束，已包含保持时间（保持期间来电人仍在桥接中，听等待音乐）；话后处理为坐席"
            "挂机后处理该来电的时间。实时监控中的 AHT 口径相同。"
        ),
        "service_level": "进入队列后 {sl} 秒内接通的来电 /（呼入量 - 短时放弃）",
        "abandonment_rate": "放弃量 / 呼入量（含短时放弃）",
        "talk_hours": "已接通来电的通话时长（含保持）之和，以小时计",
        "occupancy": (
            "按坐席：（通话 + 话后处理）/（签入时长 - 暂停时长）；通话为坐席签入分机上接起的来电"
        ),
    },
    kpi_notes={
        "offered": "进入队列",
        "answered": "坐席接起",
        "abandoned": "排队中挂机",
        "short_abandons": "不足 {short} 秒",
        "asa": "排队等待 / 接通量",
        "aht": "通话 + 保持 + 话后处理",
        "service_level": "{sl} 秒内接通 /（呼入 - 短时放弃）",
        "abandonment_rate": "放弃量 / 呼入量",
        "talk_hours": "通话，含保持",
    },
    agent_note=(
        "无坐席接起的来电（包括放弃来电）不属于任何坐席，不列入本表；它们计入总体指标，"
        "以及按队列、语言、诉求类型的统计。"
    ),
    occupancy_title="坐席占用率",
    occupancy_columns={
        "agent": "坐席",
        "logged_in_s": "签入时长",
        "paused_s": "暂停时长",
        "talk_s": "通话时长",
        "wrap_up_s": "话后处理时长",
        "occupancy": "占用率",
    },
    by_group="按{group}统计",
    groups={
        "queue": "队列",
        "agent": "坐席",
        "language": "语言",
        "kind": "诉求类型",
        "region": "来电地区",
        "pbx": "交换机",
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

CATALOGUE: Mapping[str, Labels] = {"zh": ZH, "en": EN}
