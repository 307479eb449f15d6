"""Search and FAQ I/O schemas."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class SearchHitRead(BaseModel):
    kind: str = Field(description="item 办事事项 / guide 办事指南 / faq 常见问题")
    key: str
    title: str
    title_html: str = Field(description="标题，命中词以 <em> 标出（已转义）")
    snippet: str = Field(description="摘要，命中词以 <em> 标出（已转义）")
    url: str
    score: float
    department: str
    region_code: str


class FaqAnswerRead(BaseModel):
    key: str
    topic: str
    question: str
    answer: str
    item_code: str
    score: float = Field(description="相对得分（最佳主题约为 1.6）")
    confidence: float = Field(description="问题用字在该主题中出现的比例，0–1")


class SearchPageRead(BaseModel):
    search_id: str = Field(description="点击结果时回传（POST /search/click）")
    query: str
    total: int
    page: int
    pages: int
    suggestion: str | None = Field(description="您是不是要找")
    corrected: bool = Field(description="已按同音字纠正查询")
    results: list[SearchHitRead]
    faq: list[FaqAnswerRead]


class SuggestionRead(BaseModel):
    title: str
    kind: str


class SuggestPageRead(BaseModel):
    query: str
    suggestions: list[SuggestionRead]


class ClickCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search_id: str = Field(min_length=8, max_length=32, pattern=r"^[0-9a-f]+$")
    kind: str = Field(pattern="^(item|guide|faq)$")
    key: str = Field(min_length=1, max_length=100)


class FaqAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=2, max_length=300, description="问题")
    limit: int = Field(5, ge=1, le=20)


class FaqAskRead(BaseModel):
    question: str
    answers: list[FaqAnswerRead]


class SynonymCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term: str = Field(min_length=1, max_length=50, description="群众的说法，如：生孩子")
    canonical: str = Field(min_length=1, max_length=100, description="规范说法，如：出生")
    approve: bool = Field(False, description="直接启用（仅平台管理员）")


class SynonymRead(BaseModel):
    id: int
    term: str
    canonical: str
    status: str
    source: str
    evidence: int
    created_at: dt.datetime
    approved_at: dt.datetime | None


class SynonymPage(BaseModel):
    items: list[SynonymRead]
    next_after: int | None


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(item|guide|faq)$")
    key: str = Field(min_length=1, max_length=100)


class ImportErrorRead(BaseModel):
    row: int
    column: str
    message: str


class FaqImportRead(BaseModel):
    id: int | None
    status: str = Field(description="done 已导入 / rejected 有错误，未写入任何内容")
    rows_read: int
    rows_written: int
    errors: list[ImportErrorRead]


class LearnRead(BaseModel):
    proposed: list[SynonymRead]
