//! The UI's words in Chinese (the default) and English. One table, so a missing translation is
//! visible in one place; an unknown key shows itself rather than an empty label.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Lang {
        if s == "en" { Lang::En } else { Lang::Zh }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> (&'static str, &'static str) {
        match self {
            Lang::Zh => ("en", "English"),
            Lang::En => ("zh", "中文"),
        }
    }

    pub fn t(self, key: &str) -> &'static str {
        match WORDS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => "??",
        }
    }

    /// A status, route, step, side or event value in words.
    pub fn value(self, v: &str) -> String {
        let key = format!("v_{v}");
        match WORDS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => (*zh).to_string(),
                Lang::En => (*en).to_string(),
            },
            None => v.to_string(),
        }
    }
}

/// (key, 中文, English).
const WORDS: &[(&str, &str, &str)] = &[
    (
        "app_name",
        "危险废物跨省转移白名单",
        "Hazardous-waste transfer whitelist",
    ),
    ("login", "登录", "Sign in"),
    ("logout", "退出", "Sign out"),
    ("username", "用户名", "Username"),
    ("password", "密码", "Password"),
    (
        "login_failed",
        "用户名、密码或动态口令错误。",
        "Wrong username, password or one-time code.",
    ),
    (
        "totp_code",
        "动态口令（已登记第二因素者必填）",
        "One-time code (required once a second factor is enrolled)",
    ),
    (
        "login_enrol_first",
        "管理员和监管人员须先登记第二因素（动态口令）后方可登录：请按部署说明通过 API 登记。",
        "Admins and regulators must enrol a second factor (one-time codes) before signing in: enrol it through the API as the deployment guide says.",
    ),
    (
        "login_missing",
        "请填写用户名和密码。",
        "Enter a username and a password.",
    ),
    (
        "login_locked",
        "登录失败次数过多，该账号或地址已被暂时锁定。",
        "Too many failed sign-ins: this account or address is locked for a while.",
    ),
    ("login_retry_in", "请在以下分钟数后重试：", "Try again in minutes:"),
    ("queue", "待办", "Queue"),
    ("applications", "申请", "Applications"),
    ("whitelist", "白名单", "Whitelist"),
    ("calendar", "工作日历", "Calendar"),
    ("history", "转移历史", "History"),
    ("audit", "审计链", "Audit chain"),
    ("annual", "年度报告", "January report"),
    (
        "annual_counted_by",
        "按接收日期计入年度（北京时间），按经营单位、废物类别和移出省列示实际接收量与白名单名单量。",
        "Counted by the day of receipt (Asia/Shanghai): what each operator received per waste category and source province, beside the quantity the whitelist listed.",
    ),
    ("listed_kg", "名单量（千克）", "Listed (kg)"),
    (
        "shared_listed_kg",
        "多省共享名单量（千克）",
        "Shared with other sources (kg)",
    ),
    ("received_kg", "实际接收量（千克）", "Received (kg)"),
    ("manifest_count", "联单数", "Manifests"),
    ("export_xlsx", "导出 Excel", "Export XLSX"),
    ("dashboard", "统计", "Dashboard"),
    ("webhooks", "消息推送", "Webhooks"),
    ("filters", "筛选", "Filters"),
    ("apply", "查询", "Apply"),
    ("reset", "重置", "Reset"),
    ("all", "全部", "All"),
    ("route", "路径", "Route"),
    ("status", "状态", "Status"),
    ("operator", "经营单位", "Operator"),
    ("producer", "产生单位", "Producer"),
    ("code", "废物代码", "Waste code"),
    ("category", "类别", "Category"),
    ("overdue_only", "仅看逾期", "Overdue only"),
    ("waiting", "待办理", "Waiting"),
    ("overdue", "已逾期", "Overdue"),
    ("due_today", "今日到期", "Due today"),
    ("due", "办理期限", "Due"),
    ("wd_left", "剩余工作日", "Working days left"),
    ("step", "环节", "Step"),
    ("side", "办理方", "Side"),
    ("source_province", "移出省", "Source province"),
    ("receiving_province", "接受省", "Receiving province"),
    ("quantity", "数量（千克）", "Quantity (kg)"),
    ("filed_at", "提交时间", "Filed"),
    ("none", "暂无", "None"),
    ("next_page", "下一页", "Next page"),
    (
        "provisional",
        "暂定（待国务院放假通知）",
        "provisional, pending the holiday notice",
    ),
    ("notice_missing_1", "国务院", "The State Council's holiday notice for "),
    (
        "notice_missing_2",
        "年放假通知尚未导入：该年期限按法定节假日暂定，视为受理和逾期督办暂缓执行。请管理员在“工作日历”中导入。",
        " is not imported: deadlines in it are provisional (statutory holidays only), and deemed acceptance and escalation wait for it. Admins import it under Calendar.",
    ),
    (
        "awaiting_notice",
        "暂定期限已过，待放假通知导入后处理",
        "provisional deadline passed: pending the holiday notice",
    ),
    ("suspended_clock", "计时已暂停", "clock suspended"),
    ("parties", "当事方", "Parties"),
    ("items", "废物明细", "Items"),
    ("steps", "办理环节", "Steps"),
    ("timeline", "办理记录", "Timeline"),
    ("decisions", "决定", "Decisions"),
    ("route_why", "走标准程序的原因", "Why the standard route"),
    ("matched_entries", "匹配的白名单条目", "Matched whitelist entries"),
    ("quota", "额度", "Quota"),
    ("before_this", "本申请前", "Before this application"),
    ("after_this", "本申请后", "After this application"),
    ("remaining", "剩余", "Remaining"),
    ("actions", "可办理的操作", "Actions you may take"),
    (
        "no_actions",
        "当前状态下您没有可办理的操作。",
        "You have no action to take in this state.",
    ),
    ("confirm_prompt", "确认执行此操作？", "Carry out this action?"),
    ("reasons", "理由（每行一条）", "Reasons (one per line)"),
    (
        "conditions",
        "条件（每行一条，可选）",
        "Conditions (one per line, optional)",
    ),
    (
        "problems_checklist",
        "补正清单：勾选全部问题，可补充其他问题（每行一条）",
        "Correction checklist: tick every problem, add others one per line",
    ),
    ("other_problems", "其他问题", "Other problems"),
    ("suspend_reason", "暂停计时的原因", "Why the clock is suspended"),
    ("done", "已办理", "Done"),
    ("conflict", "他人已先行办理", "Someone acted first"),
    (
        "conflict_detail",
        "该申请已被他人处理，页面已是最新状态，请核对后再操作。",
        "Someone else acted on this case first. The page now shows its current state; check it before acting.",
    ),
    ("certificate", "批准证书", "Approval certificate"),
    ("print", "打印", "Print"),
    ("approval_number", "批准文号", "Approval number"),
    ("approved_at", "批准时间", "Approved"),
    ("valid_until", "有效期至", "Valid until"),
    ("verify_title", "批准文件核验", "Approval verification"),
    ("verify_scan", "扫码核验", "Scan to verify"),
    ("valid", "有效", "Valid"),
    ("not_valid", "无效", "Not valid"),
    (
        "not_found_approval",
        "未找到该批准文号。",
        "No approval has this number.",
    ),
    ("available", "尚可转移", "Still available"),
    ("approved_qty", "批准数量", "Approved"),
    ("shipped", "已转移", "Shipped"),
    ("received", "已接收", "Received"),
    ("reserved", "预留", "Reserved"),
    ("approved", "已批准", "Approved"),
    ("usage", "使用情况", "Usage"),
    ("year", "年度", "Year"),
    ("scope", "范围", "Scope"),
    ("confirm", "确认", "Confirm"),
    ("suspend", "暂停", "Suspend"),
    ("reinstate", "恢复", "Reinstate"),
    ("reason", "原因", "Reason"),
    ("import", "导入", "Import"),
    ("import_file", "CSV 或 XLSX 文件", "CSV or XLSX file"),
    ("import_ok", "已导入的条目数：", "Entries imported:"),
    (
        "import_errors",
        "导入失败，以下行有问题，未写入任何数据：",
        "Nothing was imported; these rows have problems:",
    ),
    ("row", "行", "Row"),
    ("field", "字段", "Field"),
    ("message", "说明", "Message"),
    (
        "holidays",
        "法定节假日与调休上班日",
        "Holidays and make-up working days",
    ),
    ("date", "日期", "Date"),
    ("kind", "类型", "Kind"),
    ("name", "名称", "Name"),
    ("holiday", "放假", "Holiday"),
    ("workday", "调休上班", "Make-up working day"),
    (
        "calendar_missing",
        "该年份放假通知尚未导入：期限按法定节假日（不含调休）暂定计算，通知导入后重算。",
        "No holiday notice imported for this year: deadlines use the statutory holidays (no make-up days) and stay provisional until the notice is imported.",
    ),
    ("calendar_import", "导入年度日历（管理员）", "Import a year (admins)"),
    (
        "calendar_import_help",
        "每行一天：日期,类型(holiday/workday),中文名称,英文名称",
        "One day per line: date,kind (holiday/workday),Chinese name,English name",
    ),
    ("source", "来源", "Source"),
    (
        "calendar_imported",
        "已导入该年度日历，暂定期限已重新计算。",
        "The year is imported; provisional deadlines were recomputed.",
    ),
    (
        "calendar_file",
        "或选择 CSV 文件（同上格式）",
        "or choose a CSV file (same layout)",
    ),
    ("line", "行号", "Line"),
    ("whitelist_new", "提出或导入白名单条目", "Propose or import entries"),
    ("propose_entry", "提出白名单条目", "Propose an entry"),
    ("import_entries", "批量导入（CSV / XLSX）", "Import a file (CSV / XLSX)"),
    (
        "import_help",
        "首行为列名：年度、统一社会信用代码、移出省份、废物代码、数量(千克)，可选设施、备注（英文列名亦可）。任何一行有问题则全部不写入。",
        "The first row names the columns: year, operator_uscc, source_province, scope, quota_kg, optionally facility and note (Chinese names work too). If any row has a problem nothing is written.",
    ),
    ("dry_run", "仅检查，不写入", "Check only, write nothing"),
    (
        "import_dry_ok",
        "检查通过，可导入的行数：",
        "All rows are valid; rows that would be imported:",
    ),
    (
        "not_saved",
        "未保存，请修改以下问题：",
        "Nothing was saved; please correct:",
    ),
    (
        "operator_hint",
        "经营单位编号或统一社会信用代码",
        "operator id or credit code",
    ),
    ("facility", "设施", "Facility"),
    ("note", "备注", "Note"),
    (
        "err_upload",
        "上传的文件无法读取或过大",
        "The upload could not be read or is too large",
    ),
    ("err_no_file", "请选择一个文件", "Choose a file"),
    (
        "err_file_type",
        "文件须为 .csv（UTF-8）或 .xlsx",
        "The file must be .csv (UTF-8) or .xlsx",
    ),
    (
        "err_not_utf8",
        "文件须为 UTF-8 编码的 CSV",
        "The file must be UTF-8 CSV",
    ),
    ("imported", "已导入", "Imported"),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("totals", "合计", "Totals"),
    ("count", "件数", "Count"),
    ("requested", "申请", "Requested"),
    ("from", "起", "From"),
    ("to", "止", "To"),
    ("chain_intact", "审计链完整", "The audit chain is intact"),
    ("chain_broken", "审计链断裂", "The audit chain is broken"),
    ("checked", "已校验记录数", "Records checked"),
    ("first_break", "首个断点", "First break"),
    ("head", "链头", "Head"),
    (
        "monthly_tonnage",
        "各省际线路月度批准量（吨）",
        "Approved tonnage per month and province pair (t)",
    ),
    (
        "on_time_rate",
        "各省按期办理率（%）",
        "Decisions on time per province (%)",
    ),
    (
        "utilisation",
        "各经营单位额度使用率（%）",
        "Quota utilisation per operator (%)",
    ),
    ("subscriptions", "推送订阅", "Subscriptions"),
    ("url", "地址", "URL"),
    ("events", "事件", "Events"),
    ("disabled_since", "已停用，自", "Disabled since"),
    ("failing_since", "持续失败，自", "Failing since"),
    ("enable", "重新启用", "Enable again"),
    ("err_title", "出错了", "Something went wrong"),
    ("err_csrf", "请求被拒绝", "Request refused"),
    (
        "err_csrf_detail",
        "表单缺少有效的安全令牌（CSRF）。请刷新页面后重试。",
        "The form lacks a valid security token (CSRF). Reload the page and try again.",
    ),
    (
        "err_not_found",
        "未找到，或您无权查看",
        "Not found, or not yours to see",
    ),
    ("err_forbidden", "您无权执行此操作", "You may not do this"),
    (
        "err_conflict",
        "当前状态不允许此操作",
        "Not possible in the current state",
    ),
    ("err_invalid", "输入有误", "Invalid input"),
    (
        "err_unavailable",
        "服务暂时不可用，请稍后重试",
        "The service is unavailable; try again shortly",
    ),
    (
        "err_internal",
        "系统内部错误，已记录",
        "Internal error; it has been logged",
    ),
    ("err_too_many", "请求过于频繁", "Too many requests"),
    ("back", "返回", "Back"),
    ("home", "首页", "Home"),
    // Values: statuses, routes, steps, sides, outcomes, entry states, events.
    ("v_submitted", "已提交", "submitted"),
    ("v_correction_requested", "待补正", "correction requested"),
    ("v_resubmitted", "已补正", "resubmitted"),
    ("v_accepted", "已受理", "accepted"),
    ("v_under_review", "审查中", "under review"),
    ("v_consultation_sent", "已发商请函", "consultation sent"),
    ("v_receiving_replied", "接受省已复函", "receiving province replied"),
    ("v_approved", "已批准", "approved"),
    ("v_refused", "不予批准", "refused"),
    ("v_withdrawn", "已撤回", "withdrawn"),
    ("v_expired", "已过期", "expired"),
    ("v_revoked", "已撤销", "revoked"),
    ("v_not_accepted", "不予受理", "not accepted"),
    ("v_whitelist_consent", "接受省同意", "receiving consent"),
    ("v_receiving_disagreed", "接受省不同意", "receiving province disagreed"),
    ("v_receiving_agreed", "接受省同意", "receiving province agreed"),
    ("v_terminated", "已终止", "terminated"),
    ("v_whitelist", "白名单", "whitelist"),
    ("v_standard", "标准程序", "standard"),
    ("v_source", "移出省", "source"),
    ("v_receiving", "接受省", "receiving"),
    ("v_acceptance", "受理", "acceptance"),
    ("v_whitelist_decision", "白名单审批", "whitelist decision"),
    ("v_source_review", "移出省审查", "source review"),
    ("v_receiving_opinion", "接受省意见", "receiving opinion"),
    ("v_source_decision", "移出省决定", "source decision"),
    ("v_approve", "批准", "approve"),
    ("v_refuse", "不予批准", "refuse"),
    ("v_proposed", "待确认", "proposed"),
    ("v_confirmed", "已确认", "confirmed"),
    ("v_suspended", "已暂停", "suspended"),
    ("v_active", "正常", "active"),
    ("v_disabled", "已停用", "disabled"),
    ("v_filed", "提交申请", "filed"),
    ("v_deemed_accepted", "视为受理", "deemed accepted"),
    ("v_correction_notice", "补正通知", "correction notice"),
    ("v_decided", "作出决定", "decided"),
    ("v_clock_suspended", "暂停计时", "clock suspended"),
    ("v_clock_resumed", "恢复计时", "clock resumed"),
    ("v_utilise", "利用", "utilise"),
    ("v_dispose", "处置", "dispose"),
    ("v_store", "贮存", "store"),
    // Actions.
    ("a_accept", "受理", "Accept (受理)"),
    ("a_correction", "补正", "Request correction (补正)"),
    ("a_suspend_clock", "暂停计时", "Suspend the clock"),
    ("a_reroute", "转入一般程序", "Move to the standard route"),
    ("a_revoke", "撤销批准", "Revoke the approval"),
    ("a_refuse_acceptance", "不予受理", "Refuse to accept (不予受理)"),
    (
        "refuse_acceptance_reasons",
        "不予受理的理由(每行一条,将写入决定书)",
        "Reasons for not accepting (one per line, stated in the decision)",
    ),
    ("letter_number", "文号", "Letter number"),
    ("letter_date", "成文日期", "Letter date"),
    ("consultation_letter", "商请函", "Consultation letter (商请函)"),
    ("reply_letter", "复函", "Reply (复函)"),
    ("refusal_decision", "决定书", "Decision"),
    (
        "doc_not_permitted",
        "不予许可决定书",
        "Decision not to permit the transfer",
    ),
    (
        "doc_not_accepted",
        "不予受理决定书",
        "Decision not to accept the application",
    ),
    ("decision_number", "决定书编号", "Decision number"),
    ("decided_on", "决定日期", "Decided on"),
    (
        "receiving_opinion_doc",
        "接受地省级生态环境主管部门意见",
        "Opinion of the receiving province",
    ),
    ("remedies", "救济途径", "Remedies"),
    ("review_until", "申请行政复议截止日期", "Administrative review until"),
    ("suit_until", "提起行政诉讼截止日期", "Suit until"),
    ("copies_to", "抄送", "Copied to (抄送)"),
    ("method", "方式", "Method"),
    ("approval_conditions", "批准条件", "Conditions"),
    (
        "reroute_reason",
        "转入一般程序的理由(将告知申请单位)",
        "Why (the applicant is told)",
    ),
    (
        "revoke_reasons",
        "撤销理由(每行一条)",
        "Reasons for revoking (one per line)",
    ),
    ("revoked_on", "撤销日期", "Revoked on"),
    ("revoked_banner", "本批准已撤销:", "This approval was revoked on"),
    ("a_resume_clock", "恢复计时", "Resume the clock"),
    ("a_approve", "批准", "Approve (批准)"),
    ("a_refuse", "不予批准", "Refuse (不予批准)"),
    ("a_receiving_agree", "同意接收", "Agree to receive (同意接收)"),
    ("a_receiving_disagree", "不同意接收", "Refuse to receive (不同意接收)"),
    (
        "a_send_consultation",
        "初审同意并发商请函",
        "Agree and send the consultation letter",
    ),
    // The catalogue by edition.
    ("catalogue", "名录版本", "Catalogue editions"),
    ("catalogue_missing_1", "《国家危险废物名录》", "The "),
    (
        "catalogue_missing_2",
        "年版（",
        " edition of the hazardous-waste catalogue (",
    ),
    ("catalogue_missing_3", "，自", ", in force from "),
    (
        "catalogue_missing_4",
        "起施行）尚未导入：申请和预审暂按",
        ") is not loaded: filings and checks use the ",
    ),
    (
        "catalogue_missing_5",
        "年版核对废物代码。请管理员在“名录版本”中导入。",
        " edition meanwhile. Admins load it under Catalogue editions.",
    ),
    ("catalogue_loaded", "已导入的名录版本", "Loaded editions"),
    ("edition", "版本", "Edition"),
    ("in_force_from", "施行日期", "In force from"),
    ("code_count", "代码数", "Codes"),
    ("successor_count", "新旧代码对照", "Successor lines"),
    ("in_force_today", "现行有效", "In force today"),
    ("used_today", "当前用于核对", "Used for checks today"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
    ("catalogue_import", "导入名录版本（管理员）", "Load an edition (admins)"),
    (
        "declared_count",
        "代码总数（以官方文本为准）",
        "Number of codes (as the official text)",
    ),
    (
        "codes_csv",
        "废物代码表（CSV，格式同 hw-catalogue-2021.csv）",
        "Code table (CSV, layout of hw-catalogue-2021.csv)",
    ),
    (
        "successors_csv",
        "新旧代码对照表（CSV：old_code,new_code；拆分为一旧多新，合并为多旧一新；可选）",
        "Successor mapping (CSV: old_code,new_code; a split is one old to several new, a merge several old to one new; optional)",
    ),
    ("csv_file", "或选择 CSV 文件", "or choose a CSV file"),
    ("catalogue_imported", "已导入该名录版本。", "The edition is loaded."),
    ("file", "文件", "File"),
    ("column", "列", "Column"),
    // Roles.
    ("r_enterprise", "产生单位", "enterprise"),
    ("r_operator", "经营单位", "operator"),
    ("r_regulator", "监管部门", "regulator"),
    ("r_auditor", "审计", "auditor"),
    ("r_admin", "管理员", "admin"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, zh, en) in WORDS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!zh.is_empty() && !en.is_empty(), "empty word for {k}");
        }
    }

    #[test]
    fn values_fall_back_to_themselves() {
        assert_eq!(Lang::Zh.value("approved"), "已批准");
        assert_eq!(Lang::En.value("approved"), "approved");
        assert_eq!(Lang::Zh.value("something_new"), "something_new");
        assert_eq!(Lang::Zh.t("no_such_key"), "??");
    }
}
