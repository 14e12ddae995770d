"""The demo data set as plain tables: no database here, `workers.seed` loads it.

Money in fen, weight in grams, volume in cm³, regions are province codes (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta

# -- regions -------------------------------------------------------------------------------------

PROVINCES: tuple[tuple[str, str], ...] = (
    ("110000", "北京"), ("120000", "天津"), ("130000", "河北"), ("140000", "山西"),
    ("150000", "内蒙古"), ("210000", "辽宁"), ("220000", "吉林"), ("230000", "黑龙江"),
    ("310000", "上海"), ("320000", "江苏"), ("330000", "浙江"), ("340000", "安徽"),
    ("350000", "福建"), ("360000", "江西"), ("370000", "山东"), ("410000", "河南"),
    ("420000", "湖北"), ("430000", "湖南"), ("440000", "广东"), ("450000", "广西"),
    ("460000", "海南"), ("500000", "重庆"), ("510000", "四川"), ("520000", "贵州"),
    ("530000", "云南"), ("540000", "西藏"), ("610000", "陕西"), ("620000", "甘肃"),
    ("630000", "青海"), ("640000", "宁夏"), ("650000", "新疆"),
)  # fmt: skip
PROVINCE_CODES: tuple[str, ...] = tuple(code for code, _ in PROVINCES)

EAST = ("310000", "320000", "330000", "340000")
SOUTH = ("440000", "450000", "350000", "460000")
NORTH = ("110000", "120000", "130000", "370000")
REMOTE = ("150000", "620000", "630000", "640000")
FAR_WEST = ("540000", "650000")

# -- users ---------------------------------------------------------------------------------------

STAFF_USERS: tuple[tuple[str, str], ...] = (
    ("admin", "系统管理员"),
    ("ops", "运营 李娜"),
    ("purchasing", "采购 王强"),
    ("purchasing_manager", "采购经理 孙磊"),
    ("finance", "财务 赵敏"),
    ("cs", "客服 刘洋"),
    ("warehouse_manager", "仓库主管 陈刚"),
)  # username = role name

# -- catalog -------------------------------------------------------------------------------------

CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("FOOD", "食品", None),
    ("FOOD-SNACK", "零食", "FOOD"),
    ("FOOD-DRINK", "饮料", "FOOD"),
    ("BEAUTY", "美妆", None),
    ("BEAUTY-SKIN", "护肤", "BEAUTY"),
    ("BEAUTY-MAKEUP", "彩妆", "BEAUTY"),
    ("DIGITAL", "数码", None),
    ("DIGITAL-ACC", "配件", "DIGITAL"),
    ("HOME", "家居", None),
    ("HOME-KITCHEN", "厨房用品", "HOME"),
)  # (code, name, parent code); parents first

BRANDS: tuple[str, ...] = ("良品坊", "清泉", "花漾", "极客派", "木本生活")


@dataclass(frozen=True)
class Variant:
    attributes: dict[str, str]
    weight_g: int
    volume_cm3: int
    price_fen: int


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    category: str
    brand: str
    template: str
    shelf_life_days: int | None  # set: batch-managed (batch no., production and expiry dates)
    variants: tuple[Variant, ...]
    description: str = ""


def _v(weight_g: int, volume_cm3: int, price_fen: int, **attributes: str) -> Variant:
    return Variant(attributes, weight_g, volume_cm3, price_fen)


def _colors(
    names: tuple[str, ...], weight_g: int, volume_cm3: int, price_fen: int
) -> tuple[Variant, ...]:
    return tuple(_v(weight_g, volume_cm3, price_fen, 颜色=name) for name in names)


PRODUCTS: tuple[Product, ...] = (
    Product("SP001", "每日坚果混合装", "FOOD-SNACK", "良品坊", "FT-WEIGHT", 180, (
        _v(210, 1500, 3990, 规格="25g×7袋"), _v(860, 6000, 12900, 规格="25g×30袋"))),
    Product("SP002", "手撕牛肉干", "FOOD-SNACK", "良品坊", "FT-WEIGHT", 240, tuple(
        _v(115, 450, 3290, 口味=taste, 规格="100g") for taste in ("原味", "香辣", "五香"))),
    Product("SP003", "海苔脆片", "FOOD-SNACK", "良品坊", "FT-WEIGHT", 270, (
        _v(55, 900, 1290, 口味="原味", 规格="40g"), _v(55, 900, 1390, 口味="芝士", 规格="40g"))),
    Product("SP004", "黑糖话梅", "FOOD-SNACK", "良品坊", "FT-WEIGHT", 365, (
        _v(135, 500, 1590, 规格="120g"), _v(270, 950, 2790, 规格="250g"))),
    Product("SP005", "天然矿泉水", "FOOD-DRINK", "清泉", "FT-WEIGHT", 540, (
        _v(13800, 16000, 3990, 规格="550ml×24瓶"), _v(18600, 23000, 4590, 规格="1.5L×12瓶"))),
    Product("SP006", "无糖茶饮料", "FOOD-DRINK", "清泉", "FT-WEIGHT", 270, (
        _v(7900, 9800, 5990, 口味="乌龙", 规格="500ml×15瓶"),
        _v(7900, 9800, 5990, 口味="茉莉", 规格="500ml×15瓶"),
        _v(7900, 9800, 6290, 口味="大红袍", 规格="500ml×15瓶"))),
    Product("SP007", "NFC鲜榨橙汁", "FOOD-DRINK", "清泉", "FT-WEIGHT", 45, (
        _v(2000, 2600, 5990, 规格="300ml×6瓶"), _v(2200, 2900, 4990, 规格="1L×2瓶")),
        "冷藏保存，开封后24小时内饮用"),
    Product("SP008", "玻尿酸补水面膜", "BEAUTY-SKIN", "花漾", "FT-PIECE", 1095, (
        _v(300, 900, 6900, 规格="10片装"), _v(880, 2600, 16900, 规格="30片装"))),
    Product("SP009", "氨基酸洁面乳", "BEAUTY-SKIN", "花漾", "FT-PIECE", 1095, (
        _v(130, 300, 5900, 规格="100g"), _v(190, 420, 7900, 规格="150g"))),
    Product("SP010", "水润保湿精华液", "BEAUTY-SKIN", "花漾", "FT-PIECE", 1095, (
        _v(120, 250, 18900, 规格="30ml"), _v(180, 350, 26900, 规格="50ml"))),
    Product("SP011", "丝绒哑光口红", "BEAUTY-MAKEUP", "花漾", "FT-PIECE", 1095,
        _colors(("正红", "豆沙", "枫叶棕", "珊瑚橘"), 40, 60, 16900)),
    Product("SP012", "清透防晒乳 SPF50+", "BEAUTY-SKIN", "花漾", "FT-PIECE", 1095, (
        _v(75, 120, 9900, 规格="50ml"), _v(160, 260, 17900, 规格="50ml×2支"))),
    Product("SP013", "USB-C快充数据线", "DIGITAL-ACC", "极客派", "FT-PIECE", None, tuple(
        _v(35 if length == "1m" else 55, 120 if length == "1m" else 160,
           2990 if length == "1m" else 3990, 颜色=color, 长度=length)
        for color in ("黑", "白") for length in ("1m", "2m"))),
    Product("SP014", "氮化镓充电器 65W", "DIGITAL-ACC", "极客派", "FT-PIECE", None,
        _colors(("白", "黑"), 130, 250, 12900)),
    Product("SP015", "无线蓝牙耳机", "DIGITAL-ACC", "极客派", "FT-PIECE", None,
        _colors(("白", "黑", "蓝"), 160, 800, 29900)),
    Product("SP016", "磁吸充电宝 10000mAh", "DIGITAL-ACC", "极客派", "FT-PIECE", None,
        _colors(("白", "紫"), 210, 300, 19900)),
    Product("SP017", "手机保护壳", "DIGITAL-ACC", "极客派", "FT-PIECE", None, tuple(
        _v(40, 280, 3900 if size == "6.1英寸" else 4900, 颜色=color, 尺寸=size)
        for color in ("透明", "磨砂黑") for size in ("6.1英寸", "6.7英寸"))),
    Product("SP018", "纯棉四件套", "HOME", "木本生活", "FT-VOLUME", None, tuple(
        _v(2600 if bed == "1.5m床" else 2900, 18000 if bed == "1.5m床" else 21000,
           39900 if bed == "1.5m床" else 45900, 规格=bed, 颜色=color)
        for bed in ("1.5m床", "1.8m床") for color in ("雾霾灰", "静谧蓝"))),
    Product("SP019", "记忆棉枕头", "HOME", "木本生活", "FT-VOLUME", None, (
        _v(1300, 30000, 15900, 款式="标准款"), _v(1400, 32000, 19900, 款式="护颈款"))),
    Product("SP020", "不锈钢保温杯 500ml", "HOME-KITCHEN", "木本生活", "FT-PIECE", None,
        _colors(("黑", "白", "樱花粉"), 330, 1800, 8900)),
    Product("SP021", "厨房置物架", "HOME-KITCHEN", "木本生活", "FT-VOLUME", None, (
        _v(2400, 24000, 12900, 规格="二层"), _v(3300, 33000, 16900, 规格="三层"))),
    Product("SP022", "麦饭石不粘炒锅", "HOME-KITCHEN", "木本生活", "FT-VOLUME", None, (
        _v(1600, 13000, 18900, 规格="28cm"), _v(1900, 16000, 22900, 规格="32cm"))),
)  # fmt: skip


def ean13(number: int) -> str:
    """A valid EAN-13 (China prefix 692, a demo company number, the item, the check digit)."""
    body = f"6920318{number:05d}"
    odd = sum(int(d) for d in body[0::2])
    even = sum(int(d) for d in body[1::2])
    return body + str((10 - (odd + 3 * even) % 10) % 10)


def sku_name(product: Product, variant: Variant) -> str:
    return " ".join((product.name, *variant.attributes.values()))


# -- freight -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    regions: tuple[str, ...]  # empty: the default rule
    first_units: int
    first_price_fen: int
    additional_units: int
    additional_price_fen: int


@dataclass(frozen=True)
class Template:
    code: str
    name: str
    charge_by: str
    rules: tuple[Rule, ...]
    free_over_fen: int | None = None
    unserviceable: tuple[str, ...] = field(default=())


TEMPLATES: tuple[Template, ...] = (
    Template("FT-PIECE", "按件计费（小件）", "piece", (
        Rule(EAST, 1, 500, 1, 100),
        Rule(SOUTH, 1, 600, 1, 200),
        Rule(REMOTE + FAR_WEST, 1, 1500, 1, 800),
        Rule((), 1, 800, 1, 300),
    ), free_over_fen=9900),
    Template("FT-WEIGHT", "按重量计费（食品饮料）", "weight", (
        Rule(EAST, 1000, 600, 1000, 200),
        Rule(SOUTH, 1000, 800, 1000, 300),
        Rule(NORTH, 1000, 900, 1000, 400),
        Rule(REMOTE, 1000, 1800, 1000, 1000),
        Rule((), 1000, 1000, 1000, 500),
    ), unserviceable=FAR_WEST),
    Template("FT-VOLUME", "按体积计费（大件）", "volume", (
        Rule(EAST + SOUTH, 10000, 1200, 5000, 300),
        Rule(REMOTE + FAR_WEST, 10000, 3000, 5000, 1500),
        Rule((), 10000, 2000, 5000, 600),
    )),
)  # fmt: skip

# -- warehouses ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarehouseRow:
    code: str
    name: str
    region_code: str
    address: str
    near: frozenset[str]  # provinces this warehouse serves first (priority 1; others 2)


_SH_NEAR = frozenset(
    EAST + NORTH + REMOTE + ("210000", "220000", "230000", "140000", "360000", "410000",
                             "420000", "610000", "650000")
)  # fmt: skip
WAREHOUSES: tuple[WarehouseRow, ...] = (
    WarehouseRow("SH01", "上海仓", "310000", "上海市青浦区华新镇华志路 1688 号", _SH_NEAR),
    WarehouseRow(
        "GZ01", "广州仓", "440000", "广州市白云区太和镇广从五路 88 号",
        frozenset(PROVINCE_CODES) - _SH_NEAR,
    ),
)  # fmt: skip
DEMO_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Slot:
    """A location in the grid. x runs across the aisles, y along them, from the dock (0, 0)."""

    code: str
    kind: str
    zone: str
    aisle: int
    bay: int
    level: int
    x_cm: int
    y_cm: int


ZONE_AISLES: dict[str, tuple[int, ...]] = {"A": (1, 2, 3), "B": (4, 5, 6)}
BAYS = 10
LEVELS = 3
AISLE_PITCH_CM = 300
BAY_PITCH_CM = 120
FIRST_BAY_Y_CM = 300


def storage_slots() -> list[Slot]:
    """Zone / aisle / bay / level, in walk order: 6 aisles × 10 bays × 3 levels."""
    return [
        Slot(f"{zone}-{aisle:02d}-{bay:02d}-{level}", "storage", zone, aisle, bay, level,
             aisle * AISLE_PITCH_CM, FIRST_BAY_Y_CM + (bay - 1) * BAY_PITCH_CM)
        for zone, aisles in ZONE_AISLES.items()
        for aisle in aisles
        for bay in range(1, BAYS + 1)
        for level in range(1, LEVELS + 1)
    ]  # fmt: skip


OPERATION_SLOTS: tuple[Slot, ...] = (
    Slot("RCV-01", "receiving", "OPS", 0, 0, 0, 0, 0),
    Slot("PACK-01", "pack", "OPS", 0, 0, 0, 600, 0),
    Slot("PW-01", "put_wall", "OPS", 0, 0, 0, 900, 0),
    Slot("EXC-01", "exception", "OPS", 0, 0, 0, 1500, 0),
    Slot("DMG-01", "damage", "OPS", 0, 0, 0, 2100, 0),
)

# -- suppliers and carriers ----------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierRow:
    code: str
    name: str
    contact_name: str
    phone: str
    email: str
    payment_terms_days: int
    status: str


SUPPLIERS: tuple[SupplierRow, ...] = (
    SupplierRow("SUP001", "上海良源食品有限公司", "陈建国", "021-58881001",
                "sales@liangyuan-food.example.cn", 30, "approved"),
    SupplierRow("SUP002", "华南优选供应链（广州）有限公司", "林晓燕", "020-36662002",
                "order@huanan-youxuan.example.cn", 45, "approved"),
    SupplierRow("SUP003", "深圳极客派电子有限公司", "黄志强", "0755-26663003",
                "b2b@geekpai.example.cn", 15, "pending"),
)  # fmt: skip


@dataclass(frozen=True)
class SupplyTerm:
    """What a supplier charges for the SKUs of one category, and how it ships them."""

    supplier: str
    category: str
    purchase_unit: str
    units_per_purchase_unit: int
    lead_time_days: int
    price_percent: int  # supply price = list price × percent / 100, rounded down
    preferred: bool


SUPPLY_TERMS: tuple[SupplyTerm, ...] = (
    SupplyTerm("SUP001", "FOOD-SNACK", "箱", 24, 2, 55, preferred=True),
    SupplyTerm("SUP001", "FOOD-DRINK", "托", 40, 2, 60, preferred=True),
    SupplyTerm("SUP002", "FOOD-DRINK", "托", 40, 4, 66, preferred=False),
    SupplyTerm("SUP002", "BEAUTY-SKIN", "箱", 48, 7, 45, preferred=True),
    SupplyTerm("SUP002", "BEAUTY-MAKEUP", "箱", 60, 7, 40, preferred=True),
    SupplyTerm("SUP002", "DIGITAL-ACC", "箱", 50, 5, 58, preferred=True),
    SupplyTerm("SUP002", "HOME", "件", 1, 10, 60, preferred=True),
    SupplyTerm("SUP002", "HOME-KITCHEN", "箱", 12, 10, 55, preferred=True),
    SupplyTerm("SUP003", "DIGITAL-ACC", "箱", 100, 3, 52, preferred=False),
)

CARRIERS: tuple[tuple[str, str, str], ...] = (
    ("SF", "顺丰速运", "carrier_issued"),
    ("ZTO", "中通快递", "prepurchased_range"),
)
CARRIER_CUTOFFS: tuple[tuple[str, str, time], ...] = (
    ("SF", "SH01", time(12, 0)),
    ("SF", "SH01", time(18, 0)),
    ("SF", "GZ01", time(17, 30)),
    ("ZTO", "SH01", time(16, 0)),
    ("ZTO", "GZ01", time(16, 30)),
)  # (carrier, warehouse, local time)

# -- opening stock -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lot:
    """One piece of opening stock: units of one batch ('' if not batch-managed) at a slot."""

    slot_index: int  # index into storage_slots()
    quantity: int
    batch_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None


NEAR_EXPIRY_DAYS = 15


def opening_quantities(index: int) -> dict[str, int]:
    """Units per warehouse for the index-th SKU: most in both, some in one, a few in none."""
    if index % 19 == 10:
        return {}
    sh, gz = 60 + (index * 37) % 140, 40 + (index * 53) % 120
    if index % 9 == 4:
        return {"SH01": sh}
    if index % 9 == 7:
        return {"GZ01": gz}
    return {"SH01": sh, "GZ01": gz}


def batches(index: int, shelf_life_days: int, today: date) -> list[tuple[str, date, date]]:
    """2–3 batches (number, production, expiry), oldest first; every third SKU's oldest batch
    expires within NEAR_EXPIRY_DAYS."""
    count = 2 + index % 2
    oldest_age = shelf_life_days - NEAR_EXPIRY_DAYS if index % 3 == 0 else shelf_life_days // 3
    step = oldest_age // count
    made = [today - timedelta(days=oldest_age - k * step) for k in range(count)]
    return [(f"B{d:%Y%m%d}", d, d + timedelta(days=shelf_life_days)) for d in made]


def lots(
    index: int, warehouse_code: str, quantity: int, shelf_life_days: int | None, today: date
) -> list[Lot]:
    """Split `quantity` over 1–3 adjacent slots (SKUs never share a slot), by batch if managed."""
    shift = 0 if warehouse_code == "SH01" else 1
    slot_count = 1 + (index + shift) % 3
    first_slot = index * 3 + 7 * shift
    if shelf_life_days is None:
        parts: list[tuple[str, date | None, date | None]] = [("", None, None)] * slot_count
    else:
        parts = list(batches(index, shelf_life_days, today))
    share, remainder = divmod(quantity, len(parts))
    return [
        Lot(first_slot + k % slot_count, share + (remainder if k == 0 else 0), *part)
        for k, part in enumerate(parts)
    ]  # fmt: skip
