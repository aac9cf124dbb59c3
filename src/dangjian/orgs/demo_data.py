"""Data tables of the demo city and the synthetic seeder: names, places, work units, positions.

Everything here is fictional. Surname weights follow the published frequency of the commonest Chinese
surnames; given names follow the fashions of each generation, so that a 75-year-old retiree is 秀英 or
建国 and a 22-year-old student is 梓涵 or 浩然. The proportions of 党内统计公报 (women, ethnic minorities,
junior college or above, probationary members) are reached through the per-sector tables below; the
demo test checks them.
"""

from __future__ import annotations


def _words(text: str) -> list[str]:
    return text.split()


# (surname, weight in per mille of the population, roughly the 2020 census ranking).
SURNAMES: list[tuple[str, float]] = [
    ("王", 71), ("李", 70), ("张", 64), ("刘", 53), ("陈", 45), ("杨", 31), ("黄", 22), ("赵", 20),
    ("吴", 19), ("周", 19), ("徐", 15), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 13), ("郭", 12),
    ("何", 12), ("林", 11), ("高", 11), ("罗", 10), ("郑", 10), ("梁", 9), ("谢", 8), ("宋", 8),
    ("唐", 8), ("许", 7), ("韩", 7), ("邓", 7), ("冯", 7), ("曹", 6), ("彭", 6), ("曾", 6), ("肖", 6),
    ("田", 5), ("董", 5), ("潘", 5), ("袁", 5), ("蔡", 5), ("蒋", 5), ("余", 5), ("于", 5), ("杜", 5),
    ("叶", 4), ("程", 4), ("魏", 4), ("苏", 4), ("吕", 4), ("丁", 4), ("任", 4), ("卢", 4), ("姚", 4),
    ("沈", 4), ("钟", 4), ("姜", 4), ("崔", 4), ("谭", 4), ("陆", 3), ("范", 3), ("汪", 3), ("廖", 3),
    ("石", 3), ("金", 3), ("韦", 3), ("贾", 3), ("夏", 3), ("付", 3), ("方", 3), ("邹", 3), ("熊", 3),
    ("白", 3), ("孟", 3), ("秦", 3), ("邱", 3), ("侯", 2), ("江", 2), ("尹", 2), ("薛", 2), ("闫", 2),
    ("段", 2), ("雷", 2), ("龙", 2), ("黎", 2), ("史", 2), ("陶", 2), ("贺", 2), ("毛", 2), ("郝", 2),
    ("顾", 2), ("龚", 2), ("邵", 2), ("万", 2), ("覃", 2), ("武", 2), ("钱", 2), ("戴", 2), ("严", 2),
    ("欧阳", 0.5), ("司马", 0.2), ("上官", 0.2), ("诸葛", 0.1),
]  # fmt: skip

# Given names by generation (birth year up to the key) and gender: whole names people of that age carry.
GIVEN_NAMES: dict[int, dict[str, list[str]]] = {
    1959: {
        "male": _words(
            "建国 建华 建军 国强 国华 志强 志明 德明 德胜 卫国 卫东 振华 庆丰 学文 永福 长林 保国 新民 光明 "
            "向东 树林 福生 金山 玉林 德福 春生 秋生 和平 胜利 宝山 兴旺 家声 守义 文华 长顺"
        ),
        "female": _words(
            "秀英 桂英 秀兰 桂兰 玉兰 淑珍 凤英 玉珍 玉梅 秀珍 兰英 素芬 美华 丽华 淑英 秀梅 桂芳 翠兰 "
            "红梅 冬梅 金凤 月娥 素珍 爱华 凤兰 淑兰 秀芳 玉芬 桂珍 荷花"
        ),
    },
    1979: {
        "male": _words(
            "伟 勇 军 强 磊 涛 斌 刚 辉 明 平 杰 峰 波 鹏 海涛 建平 晓东 立新 志刚 宏伟 海波 永刚 小平 "
            "卫华 晓军 国庆 红兵 文华 东升 志华 建新 爱民"
        ),
        "female": _words(
            "丽 芳 敏 静 燕 艳 红 霞 娟 玲 萍 莉 丽娟 晓燕 海燕 春梅 红霞 秀丽 丽萍 晓红 建英 卫红 "
            "小红 雪梅 丽君 晓梅 春燕 凤霞 海英"
        ),
    },
    1994: {
        "male": _words(
            "磊 鹏 超 浩 宇 杰 俊杰 明辉 文博 建伟 晓明 志鹏 家豪 子健 永辉 天宇 晨阳 博文 俊 凯 帅 "
            "亮 健 阳 旭 剑 鑫 鹏飞 海龙 志远"
        ),
        "female": _words(
            "婷 静 丹 雪 倩 璐 佳 慧 婷婷 晓婷 雪梅 佳佳 丽丽 思思 梦瑶 晓雪 雨婷 欣 颖 琳 蕾 晶 "
            "洁 薇 瑶 雯 露 宁 丹丹"
        ),
    },
    9999: {
        "male": _words(
            "子轩 浩然 宇轩 俊熙 梓豪 博宇 一鸣 思远 皓轩 明哲 宇航 嘉懿 睿 泽宇 浩宇 子墨 天佑 逸飞 "
            "梓睿 奕辰 宇豪 俊宇 子豪 嘉豪 煜 泽 晨 铭 锦程 昊天"
        ),
        "female": _words(
            "欣怡 梓涵 诗涵 子涵 雨萱 可馨 一诺 思彤 梦琪 语桐 佳怡 雨欣 心怡 若曦 紫涵 梓萱 婉清 "
            "芷若 舒涵 依诺 雨桐 欣妍 可欣 诗琪 梦洁 佳琪 思雨 馨予 语嫣 悦"
        ),
    },
}

# First and second characters combined into further given names (晓 + 芳, 志 + 强), for variety.
NAME_FIRST_CHARS = {
    "male": "志建国海晓永文明家俊子宏立振德新春金天宇学红光庆",
    "female": "晓丽秀美雪春海玉慧佳雨思欣婉静淑红翠桂月",
}
NAME_SECOND_CHARS = {
    "male": "强军勇杰涛明华平刚辉鹏飞斌峰波磊龙林东成伟军良生",
    "female": "芳娜敏静丽艳娟霞英燕玲萍红梅琳婷倩颖洁琴兰凤雯华",
}

# Ethnic minorities (about 7.7% of members nationally, 党内统计公报), with their share among minority members.
MINORITIES: list[tuple[str, float]] = [
    ("回族", 20), ("满族", 18), ("壮族", 12), ("土家族", 10), ("苗族", 8), ("蒙古族", 8), ("朝鲜族", 6),
    ("彝族", 5), ("侗族", 4), ("瑶族", 3), ("维吾尔族", 3), ("藏族", 3),
]  # fmt: skip

# Groups whose members usually carry names in their own language (most others use Han-style names).
OWN_LANGUAGE_NAMES: dict[str, dict[str, list[str]]] = {
    "维吾尔族": {
        "male": ["艾力·买买提", "买买提江·艾合买提", "努尔兰·哈斯木", "阿不都热合曼·吐尔逊", "艾尔肯·依明",
                 "亚森·阿不力孜"],
        "female": ["古丽娜尔·阿布都", "阿依古丽·吐尔逊", "热依拉·依明", "帕提古丽·买买提", "米热古丽·艾力"],
    },
    "藏族": {
        "male": ["扎西次仁", "次仁多吉", "旦增", "尼玛", "多吉", "格桑", "平措", "索朗"],
        "female": ["卓玛", "央金", "格桑梅朵", "拉姆", "次仁卓嘎", "德吉", "白玛"],
    },
    "蒙古族": {
        "male": ["巴特尔", "苏和", "额尔登", "朝鲁", "宝音", "那顺"],
        "female": ["乌云其木格", "其其格", "萨仁", "娜仁花", "塔娜"],
    },
}  # fmt: skip
KOREAN_SURNAMES = ["金", "朴", "李", "崔", "郑", "姜"]

NATIVE_PLACES_ELSEWHERE = [
    "江西南昌", "江西九江", "江西赣州", "湖南长沙", "湖南岳阳", "湖北武汉", "湖北黄冈", "安徽合肥",
    "安徽安庆", "浙江杭州", "浙江温州", "福建福州", "广东广州", "广东梅州", "河南郑州", "河南信阳",
    "山东济南", "山东临沂", "河北石家庄", "四川成都", "江苏南京", "江苏徐州", "广西南宁", "贵州遵义",
    "黑龙江哈尔滨", "吉林延边", "内蒙古呼和浩特", "宁夏银川", "新疆乌鲁木齐", "西藏拉萨",
]  # fmt: skip
# Where members of some minorities commonly come from (native place follows ethnicity for realism).
NATIVE_PLACE_BY_ETHNICITY = {
    "维吾尔族": "新疆乌鲁木齐",
    "藏族": "西藏拉萨",
    "蒙古族": "内蒙古呼和浩特",
    "朝鲜族": "吉林延边",
    "回族": "宁夏银川",
    "壮族": "广西南宁",
}

STREET_NAMES = ["人民路", "解放路", "中山路", "建设路", "幸福路", "光明路", "和平路", "文化路", "胜利路", "青年路", "湖滨路", "育才路", "长青路", "园林路", "朝阳路", "新华路", "迎宾大道", "滨江路", "锦绣路", "丰收路"]  # fmt: skip
RESIDENTIAL_COMPOUNDS = ["阳光花园", "锦绣家园", "幸福里", "和谐小区", "丽景苑", "滨湖新村", "翠苑", "金色家园", "东方明珠苑", "书香名苑", "长青小区", "紫荆园", "桂花园", "康乐新村", "明珠花园"]  # fmt: skip

MOBILE_PREFIXES = [
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "198", "199",
]  # fmt: skip

# Per sector: share of women, of probationary and of flowing members, and weights of (occupation,
# education) choices. Community branches hold most retirees; school branches most students.
SECTOR_PROFILES: dict[str, dict] = {
    "organ": {
        "female": 0.31, "probationary": 0.02, "flowing": 0.0,
        "age": [(24, 30, 15), (31, 40, 30), (41, 50, 30), (51, 60, 25)],
        "education": {"doctorate": 1, "master": 18, "bachelor": 55, "junior_college": 14, "secondary_vocational": 5,
                      "high_school": 7},
    },
    "institution": {
        "female": 0.45, "probationary": 0.02, "flowing": 0.0,
        "age": [(24, 30, 18), (31, 40, 32), (41, 50, 28), (51, 60, 22)],
        "education": {"doctorate": 6, "master": 24, "bachelor": 50, "junior_college": 15,
                      "secondary_vocational": 8, "high_school": 4},
    },
    "enterprise": {
        "female": 0.22, "probationary": 0.035, "flowing": 0.02,
        "age": [(22, 30, 28), (31, 40, 35), (41, 50, 22), (51, 60, 15)],
        "education": {"master": 6, "bachelor": 26, "junior_college": 24, "secondary_vocational": 14,
                      "high_school": 16, "junior_high_or_below": 10},
    },
    "school": {
        "female": 0.38, "probationary": 0.02, "flowing": 0.0,
        "age": [(25, 30, 20), (31, 40, 30), (41, 50, 28), (51, 60, 22)],
        "education": {"doctorate": 12, "master": 38, "bachelor": 46, "junior_college": 4},
    },
    "community": {
        "female": 0.30, "probationary": 0.01, "flowing": 0.01,
        "age": [(26, 40, 8), (41, 57, 17), (58, 70, 40), (71, 80, 25), (81, 90, 10)],
        "education": {"master": 1, "bachelor": 12, "junior_college": 14, "secondary_vocational": 16,
                      "high_school": 25, "junior_high_or_below": 24},
    },
    "rural": {
        "female": 0.14, "probationary": 0.02, "flowing": 0.04,
        "age": [(22, 35, 12), (36, 50, 25), (51, 65, 35), (66, 85, 28)],
        "education": {"bachelor": 6, "junior_college": 12, "secondary_vocational": 10, "high_school": 27,
                      "junior_high_or_below": 45},
    },
    "social": {
        "female": 0.42, "probationary": 0.04, "flowing": 0.0,
        "age": [(23, 30, 25), (31, 40, 40), (41, 50, 22), (51, 60, 13)],
        "education": {"master": 8, "bachelor": 42, "junior_college": 26, "high_school": 24},
    },
}  # fmt: skip

# Education of community members over 70 and rural members over 60: they grew up before the expansion
# of higher education.
ELDERLY_EDUCATION = {
    "bachelor": 6, "junior_college": 12, "secondary_vocational": 17, "high_school": 29, "junior_high_or_below": 36,
}  # fmt: skip

# Occupations by sector (weights). Community members of retirement age are retired; school branches of
# students hold students (set by the branch's ``students`` flag, not here).
SECTOR_OCCUPATIONS: dict[str, dict[str, float]] = {
    "organ": {"official": 92, "professional": 8},
    "institution": {"professional": 72, "manager": 18, "worker": 10},
    "enterprise": {"worker": 35, "professional": 35, "manager": 22, "other": 8},
    "school": {"professional": 85, "manager": 15},
    "community": {"other": 45, "professional": 15, "worker": 20, "unemployed": 12, "manager": 8},
    "rural": {"farmer": 82, "worker": 10, "other": 8},
    "social": {"professional": 60, "manager": 25, "other": 15},
}

POSITIONS: dict[str, list[str]] = {
    "official": ["一级科员", "二级科员", "四级主任科员", "三级主任科员", "二级主任科员", "科长", "副科长",
                 "副局长", "办公室主任", "四级调研员"],
    "professional": ["工程师", "高级工程师", "助理工程师", "会计", "经济师", "技术员"],
    "manager": ["部门经理", "副总经理", "办公室主任", "项目经理", "副主任", "主任"],
    "worker": ["操作工", "技术工人", "班组长", "驾驶员", "维修工", "质检员"],
    "farmer": ["村民", "种植户", "养殖户"],
    "other": ["个体经营者", "灵活就业人员", "社区工作者", "网格员"],
    "student": ["本科生", "研究生"],
    "retired": [""],
    "unemployed": [""],
}  # fmt: skip
# Professional job titles that depend on the kind of unit.
PROFESSIONAL_BY_SECTOR = {
    "institution": ["主治医师", "副主任医师", "主任医师", "护师", "主管护师", "药师", "检验师"],
    "school": ["教师", "一级教师", "高级教师", "讲师", "副教授", "教授", "辅导员"],
    "social": ["律师", "社会工作师", "助理社会工作师", "项目专员", "会计"],
    "community": ["社区工作者", "会计", "教师", "医生"],
}

DUES_BY_OCCUPATION = {
    "retired": "retiree",
    "farmer": "farmer",
    "student": "student",
    "unemployed": "unemployed",
}

# Committee positions after the secretary, in the order a branch committee usually fills them.
COMMITTEE_TITLES = ["deputy_secretary", "organization", "publicity", "discipline", "youth", "women"]

# Fictional place names for the synthetic province (``dangjian seed``).
SEED_PLACE_SYLLABLES = list("青白云长松柳桃石金银龙凤安宁平和泰丰清明新华东西南北江河湖山")
SEED_PLACE_SUFFIXES = list("山河岭湖川原阳城溪桥州林浦泉峰")
