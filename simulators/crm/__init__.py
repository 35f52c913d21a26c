"""A CRM to integrate with: a Salesforce-style SOAP server answering the real Enterprise WSDL."""

from __future__ import annotations

from simulators.crm.book import CrmBook, salesforce_id
from simulators.crm.config import crm_system
from simulators.crm.service import WSDL, CrmSimulator

__all__ = ["WSDL", "CrmBook", "CrmSimulator", "crm_system", "salesforce_id"]
