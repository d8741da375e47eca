//! The demo applications in every state of the workflow on both routes, some due today and some
//! overdue.

use super::*;

impl AppSeeder<'_> {
    /// Every state on both routes where it applies (`accepted` has no way in: acceptance moves a
    /// case straight to `under_review`). The whitelist route needs a confirmed entry with room;
    /// the standard ones use a category the operator has no entry for, or more than the quota.
    pub(super) fn all_states(&mut self) -> anyhow::Result<()> {
        use Method::{Dispose, Utilise};
        const CQ: &str = DEMO_ENTERPRISE_ID;
        const CQ2: &str = "demo-producer-cq-2";
        const SC1: &str = "demo-producer-sc-1";
        const GZ1: &str = "demo-producer-gz-1";
        const YN1: &str = "demo-producer-yn-1";
        const OP_SC: &str = DEMO_OPERATOR_ID;
        const OP_SC2: &str = "demo-operator-sc-2";
        const OP_SC3: &str = "demo-operator-sc-3";
        const OP_CQ1: &str = "demo-operator-cq-1";
        const OP_GZ1: &str = "demo-operator-gz-1";
        const OP_GZ2: &str = "demo-operator-gz-2";
        const OP_GZ3: &str = "demo-operator-gz-3";
        const OP_YN1: &str = "demo-operator-yn-1";
        const OP_YN2: &str = "demo-operator-yn-2";
        let now = self.now;
        let oil = |kg| {
            (
                "900-249-08",
                "废矿物油（设备检修更换的废润滑油）",
                "液态",
                "T/I",
                "200L铁桶",
                kg,
            )
        };

        // Approvals first, oldest first, so the approval numbers follow the approval days.
        // Expired, standard route (渝 → 川, HW50 has no entry): approved long ago for a period
        // that ended last week; the sweep below expires it.
        let filed = self.wd(60, 9, 30);
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "500",
            )],
            filed,
            Some((Self::day(filed), Self::day(self.wd(8, 9, 0)))),
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(58, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(55, 15, 0))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(50, 11, 0))?;
        self.advance(app, Status::Approved, self.wd(47, 16, 0))?;
        // Expired, whitelist route (渝 → 川 informs only: the source's approval completes it).
        let filed = self.wd(45, 9, 10);
        let app = self.file(
            CQ,
            OP_SC,
            Utilise,
            &[oil("3000")],
            filed,
            Some((Self::day(filed), Self::day(self.wd(4, 9, 0)))),
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(44, 10, 30))?;
        self.advance(app, Status::Approved, self.wd(42, 14, 0))?;
        // Revoked (撤销), whitelist route: approved, then revoked by the source province.
        let filed = self.wd(40, 9, 40);
        let app = self.file(CQ, OP_SC, Utilise, &[oil("2000")], filed, None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(39, 10, 0))?;
        let app = self.advance(app, Status::Approved, self.wd(38, 15, 0))?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(20, 11, 0),
            Act::Revoke {
                reasons: vec!["经查，移出单位提供的危险废物鉴别材料不实，依法撤销本批准".into()],
            },
        )?;
        // Revoked, standard route (渝 → 川, HW50 has no entry).
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "800",
            )],
            self.wd(37, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(36, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(35, 15, 0))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(33, 11, 0))?;
        let app = self.advance(app, Status::Approved, self.wd(32, 16, 0))?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(15, 10, 0),
            Act::Revoke {
                reasons: vec!["接受单位危险废物经营许可证被依法吊销，撤销本批准".into()],
            },
        )?;
        // Approved, standard route (黔 → 川: no HW48 entry for the operator): the whole path.
        let app = self.file(
            GZ1,
            OP_SC3,
            Utilise,
            &[("321-026-48", "铝灰渣（熔铸工序）", "固态", "R", "防潮吨袋", "1800000")],
            self.wd(30, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(28, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(25, 16, 20))?;
        let app = self.advance(app, Status::ReceivingReplied, self.wd(16, 11, 0))?;
        self.advance(app, Status::Approved, self.wd(13, 15, 30))?;
        // Approved, whitelist route, source only (川渝 inform).
        let app = self.file(CQ, OP_SC, Utilise, &[oil("25000")], self.wd(12, 9, 20), None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(11, 10, 0))?;
        self.advance(app, Status::Approved, self.wd(9, 16, 0))?;
        // Approved, whitelist route, both provinces (渝 → 黔 asks for consent).
        let app = self.file(
            CQ2,
            OP_GZ1,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "8600")],
            self.wd(10, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(9, 11, 0))?;
        let app = self.decide(
            &app,
            Side::Source,
            true,
            &["属白名单范围，数量在年度额度内，同意转出"],
            APPROVE_CONDITIONS,
            self.wd(7, 10, 0),
        )?;
        self.advance(app, Status::Approved, self.wd(6, 14, 40))?;

        // Submitted: fresh on both routes, and one whose acceptance is due today.
        self.file(CQ, OP_SC, Utilise, &[oil("12500")], now, None)?;
        self.file(
            CQ,
            OP_SC,
            Dispose,
            &[(
                "261-151-50",
                "废催化剂（酯化工序）",
                "固态",
                "T",
                "内衬塑料袋的钢桶",
                "860",
            )],
            now,
            None,
        )?;
        self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-041-49",
                "沾染危险化学品的废包装桶",
                "固态",
                "T/In",
                "捆扎托盘",
                "3200.5",
            )],
            self.wd(5, 10, 12),
            None,
        )?;

        // Correction requested (补正): one notice listing every problem.
        let app = self.file(
            CQ2,
            OP_GZ1,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "5400")],
            self.wd(4, 9, 40),
            None,
        )?;
        self.correction(
            &app,
            &[
                "缺少与接受单位签订的委托利用处置合同",
                "危险废物特性说明未注明含水率和主要有害成分",
                "承运单位道路危险货物运输许可证已过有效期",
            ],
            self.wd(3, 15, 5),
        )?;
        let app = self.file(
            SC1,
            OP_CQ1,
            Dispose,
            &[(
                "900-047-49",
                "实验室无机废液及废弃化学试剂",
                "液态",
                "T/C/I/R",
                "25L塑料桶",
                "18.75",
            )],
            self.wd(3, 14, 0),
            None,
        )?;
        self.correction(
            &app,
            &["未附废液成分检测报告", "包装方式与危险特性不符：含氰废液须单独包装"],
            self.wd(2, 10, 30),
        )?;

        // Resubmitted today: the acceptance clock starts again.
        let app = self.file(
            CQ,
            OP_GZ1,
            Utilise,
            &[("900-218-08", "废液压油", "液态", "T/I", "200L铁桶", "7800")],
            self.wd(8, 9, 15),
            None,
        )?;
        let app = self.correction(&app, &["未提供接受单位危险废物经营许可证复印件"], self.wd(6, 11, 0))?;
        self.resubmit(&app, "已补充接受单位经营许可证复印件", now)?;
        let app = self.file(
            GZ1,
            OP_YN2,
            Utilise,
            &[("321-026-48", "二次铝灰", "固态", "R", "防潮吨袋", "420000")],
            self.wd(7, 9, 0),
            None,
        )?;
        let app = self.correction(
            &app,
            &["转移数量超出环评批复的年产生量，请说明依据", "未填写运输路线"],
            self.wd(5, 16, 0),
        )?;
        self.resubmit(&app, "已附产能核定文件并补充运输路线", now)?;

        // Under review on the whitelist route: due today; overdue; half consented.
        let app = self.file(
            CQ,
            OP_SC,
            Dispose,
            &[("900-039-49", "VOCs治理废活性炭", "固态", "T", "编织吨袋", "96.5")],
            self.wd(6, 9, 5),
            None,
        )?;
        self.advance(app, Status::UnderReview, self.wd(5, 11, 20))?;
        let app = self.file(CQ, OP_GZ1, Utilise, &[oil("15000")], self.wd(14, 10, 0), None)?;
        self.advance(app, Status::UnderReview, self.wd(12, 9, 45))?;
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-249-08",
                "沾染矿物油的废弃包装物",
                "固态",
                "T/I",
                "编织吨袋",
                "2600",
            )],
            self.wd(4, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(3, 10, 0))?;
        if app.route == Route::Whitelist.as_str() {
            self.decide(
                &app,
                Side::Source,
                true,
                &["属白名单范围，数量在年度额度内，同意转出"],
                APPROVE_CONDITIONS,
                self.wd(1, 15, 0),
            )?;
        }
        // Filed long ago and never answered: the sweep deems it accepted on the day of receipt.
        self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-006-09", "机加工废乳化液", "液态", "T", "IBC吨桶", "36000")],
            self.wd(13, 14, 30),
            None,
        )?;
        // Under review on the standard route, due today: more than the entry's quota (900 t).
        let app = self.file(
            CQ,
            OP_GZ3,
            Dispose,
            &[("772-003-18", "危险废物焚烧飞灰", "固态", "T", "防渗吨袋", "950000")],
            self.wd(7, 9, 30),
            None,
        )?;
        self.advance(app, Status::UnderReview, self.wd(5, 10, 40))?;

        // Consultation sent (商请函): the receiving opinion due today, and one overdue.
        let app = self.file(
            CQ,
            OP_GZ1,
            Dispose,
            &[("265-104-13", "树脂合成废水处理污泥", "半固态", "T", "防渗吨袋", "3800")],
            self.wd(14, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(13, 10, 0))?;
        self.advance(app, Status::ConsultationSent, self.wd(10, 15, 0))?;
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[("900-048-50", "废液体催化剂", "液态", "T", "200L塑料桶", "640")],
            self.wd(26, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(24, 10, 0))?;
        self.advance(app, Status::ConsultationSent, self.wd(20, 16, 0))?;

        // Receiving province replied: the source's final decision is running.
        let app = self.file(
            SC1,
            OP_GZ1,
            Dispose,
            &[("900-015-13", "废弃离子交换树脂", "固态", "T", "编织吨袋", "2150")],
            self.wd(20, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(18, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(16, 14, 0))?;
        self.advance(app, Status::ReceivingReplied, self.wd(2, 11, 0))?;

        // The receiving province refused in its reply (第25条): the source's final decision (第26条)
        // is running, and can only refuse.
        let app = self.file(
            YN1,
            OP_GZ2,
            Utilise,
            &[("900-037-46", "废镍催化剂", "固态", "T/I", "钢桶", "6500")],
            self.wd(12, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(11, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(9, 15, 0))?;
        self.decide(
            &app,
            Side::Receiving,
            false,
            &["接受单位本年度含镍废物利用计划已排满"],
            &[],
            self.wd(1, 11, 0),
        )?;

        // Refused: by the receiving province (whitelist); in its opinion (standard: the source's
        // final decision then runs); by the source after a refusing opinion (standard); and by the
        // source (whitelist).
        let app = self.file(
            CQ,
            OP_YN1,
            Dispose,
            &[(
                "900-041-49",
                "沾染危险化学品的废包装桶",
                "固态",
                "T/In",
                "捆扎托盘",
                "5200",
            )],
            self.wd(9, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(8, 10, 0))?;
        let refusal = ["接受单位回转窑焚烧线停产检修至下月底，近期处置能力不足"];
        if app.route == Route::Whitelist.as_str() {
            self.decide(&app, Side::Receiving, false, &refusal, &[], self.wd(6, 16, 0))?;
        } else {
            let app = self.advance(app, Status::ConsultationSent, self.wd(7, 10, 0))?;
            self.decide(&app, Side::Receiving, false, &refusal, &[], self.wd(6, 16, 0))?;
        }
        let app = self.file(
            YN1,
            OP_GZ2,
            Utilise,
            &[("900-037-46", "废镍催化剂", "固态", "T/I", "钢桶", "12000")],
            self.wd(22, 9, 0),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(20, 10, 0))?;
        let app = self.advance(app, Status::ConsultationSent, self.wd(17, 15, 0))?;
        // The receiving province's refusal is its opinion (第25条); the source decides (第26条).
        let app = self.decide(
            &app,
            Side::Receiving,
            false,
            &[
                "接受单位含镍废物利用能力已满负荷",
                "申报废物的镍含量低于接受单位入场标准",
            ],
            &[],
            self.wd(9, 11, 0),
        )?;
        self.decide(
            &app,
            Side::Source,
            false,
            &["接受地省级生态环境主管部门复函不同意接收"],
            &[],
            self.wd(7, 10, 0),
        )?;
        let app = self.file(
            SC1,
            OP_CQ1,
            Dispose,
            &[("900-013-11", "溶剂精馏釜底残渣", "半固态", "T", "200L铁桶", "2750")],
            self.wd(8, 9, 30),
            None,
        )?;
        let app = self.advance(app, Status::UnderReview, self.wd(7, 10, 0))?;
        self.decide(
            &app,
            Side::Source,
            false,
            &["申报转移量与排污许可执行报告中的年产生量不符"],
            &[],
            self.wd(4, 15, 0),
        )?;

        // Withdrawn: after acceptance (whitelist), and before it (standard).
        let app = self.file(CQ, OP_SC, Utilise, &[oil("9000")], self.wd(6, 10, 0), None)?;
        let app = self.advance(app, Status::UnderReview, self.wd(5, 9, 30))?;
        self.withdraw(&app, "合同变更，改由厂内再生装置综合利用", self.wd(3, 14, 0))?;
        let app = self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-252-12", "喷漆废物（废漆渣）", "半固态", "T/I", "200L铁桶", "4300")],
            self.wd(5, 9, 0),
            None,
        )?;
        self.withdraw(&app, "与接受单位未就处置价格达成一致，暂不转移", self.wd(2, 10, 0))?;

        // 不予受理 (行政许可法 第32条), on each route: a numbered decision that ends the case.
        let app = self.file(CQ, OP_SC, Utilise, &[oil("800")], self.wd(3, 9, 0), None)?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(2, 11, 0),
            Act::RefuseAcceptance {
                reasons: vec!["申请单位不是该批危险废物的产生单位，不属于移出人".into()],
            },
        )?;
        let app = self.file(
            CQ2,
            OP_SC2,
            Dispose,
            &[("900-252-12", "喷漆废物（漆渣）", "半固态", "T/I", "200L铁桶", "1200")],
            self.wd(4, 9, 0),
            None,
        )?;
        self.act(
            &app,
            Actor::SourceRegulator,
            self.wd(3, 15, 0),
            Act::RefuseAcceptance {
                reasons: vec!["申请事项依法不需要取得跨省转移批准：接受单位与移出人位于同一省份".into()],
            },
        )?;
        Ok(())
    }
}
